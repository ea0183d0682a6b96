import { createHash, randomBytes } from 'node:crypto'

export interface NewToken {
  /** Goes only into the email link. */
  token: string
  /** SHA-256, hex: the only form stored. */
  hash: string
}

export function hashToken (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** 32 random bytes (256 bits), base64url. */
export function newToken (): NewToken {
  const token = randomBytes(32).toString('base64url')
  return { token, hash: hashToken(token) }
}

/** The shape of a token in a URL; anything else is not looked up at all. */
export function looksLikeToken (value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value)
}
