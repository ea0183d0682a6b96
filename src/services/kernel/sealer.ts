import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

const VERSION = 'v1'

/**
 * AES-256-GCM with a key derived from KEY_SECRET per purpose (HKDF), so a copy of the database
 * alone reveals nothing sealed, and one purpose's ciphertext cannot be opened as another's.
 * Sealed form: `v1.<base64url(iv | tag | ciphertext)>`.
 */
export function createSealer (keySecret: string, purpose: string) {
  const key = Buffer.from(hkdfSync('sha256', keySecret, 'portico', purpose, 32))

  function seal (plain: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
    return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`
  }

  /** The plain text, or null when it was not sealed with this secret and purpose (or was altered). */
  function open (sealed: string): string | null {
    if (!sealed.startsWith(`${VERSION}.`)) return null
    const raw = Buffer.from(sealed.slice(VERSION.length + 1), 'base64url')
    if (raw.length < 28) return null
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
      decipher.setAuthTag(raw.subarray(12, 28))
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
    } catch {
      return null
    }
  }

  return { seal, open }
}

export type Sealer = ReturnType<typeof createSealer>
