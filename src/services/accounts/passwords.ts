import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { rootDir } from '../../paths'
import { Busy } from '../kernel/errors'

export const PASSWORD_MIN_LENGTH = 15
export const PASSWORD_MAX_LENGTH = 256
const KEY_LENGTH = 32
const R = 8
const P = 1

function scrypt (password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFKC'), salt, keyLength, options, (err, key) => err ? reject(err) : resolve(key))
  })
}

function scryptOptions (logN: number, r: number, p: number): ScryptOptions {
  const N = 2 ** logN
  return { N, r, p, maxmem: 128 * N * r * 2 }
}

// A bundled list of common passwords (from zxcvbn-ts's frequency list), lower-cased.
const commonPasswords = new Set(
  readFileSync(join(rootDir, 'src', 'services', 'accounts', 'common-passwords.txt'), 'utf8').split('\n').filter((line) => line !== '')
)

/**
 * NIST SP 800-63B-4: length only (15 to 256), no composition rules, and refuse passwords known to
 * be common. A long password made of a common one plus digits or symbols, or of one short piece
 * repeated ("passwordpassword", "aaaaaaaaaaaaaaa"), is as weak as the common one, so it is refused too.
 */
export function passwordProblem (password: string, context: string[] = []): string | null {
  const length = [...password].length
  if (length < PASSWORD_MIN_LENGTH) return `Use at least ${PASSWORD_MIN_LENGTH} characters (a few words make a good one).`
  if (length > PASSWORD_MAX_LENGTH) return `Use at most ${PASSWORD_MAX_LENGTH} characters.`
  const lower = password.toLowerCase().trim()
  const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '')
  const repeated = /^(.+?)\1+$/su.exec(lower)?.[1]
  if (commonPasswords.has(lower) || commonPasswords.has(core) ||
    (repeated !== undefined && ([...repeated].length < 8 || commonPasswords.has(repeated)))) {
    return 'This password is too common. Choose a less predictable one.'
  }
  if (context.some((word) => word.length >= 4 && lower.includes(word.toLowerCase()))) {
    return 'The password must not contain the email address.'
  }
  return null
}

export interface PasswordHasher {
  hash: (password: string) => Promise<string>
  /** Checks a password; with a null hash it still does the same work, so unknown accounts take as long. */
  verify: (password: string, stored: string | null) => Promise<boolean>
}

export interface HashingLimits {
  /** Hashes computed at once. Fewer than libuv's 4 threads, so database work keeps a thread. */
  concurrency: number
  /** Hashes that may wait for a slot; one more is refused at once (503). */
  queue: number
  /** How long one may wait before it is refused (503). */
  maxWaitMs: number
}

/**
 * Bounded concurrency for slow work: `concurrency` at once, up to `queue` waiting, each for at most
 * `maxWaitMs`; beyond that `Busy` (503 with Retry-After), so a flood of password checks cannot take
 * every thread and connection from the requests that only read.
 */
export function createWorkLimiter ({ concurrency, queue, maxWaitMs }: HashingLimits) {
  let active = 0
  const waiting: Array<() => void> = []

  async function acquire (): Promise<void> {
    if (active < concurrency) {
      active++
      return
    }
    if (waiting.length >= queue) throw new Busy()
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(grant), 1)
        reject(new Busy())
      }, maxWaitMs)
      // The slot passes straight to the next waiter: `active` stays as it is.
      const grant = (): void => {
        clearTimeout(timer)
        resolve()
      }
      waiting.push(grant)
    })
  }

  function release (): void {
    const next = waiting.shift()
    if (next !== undefined) next()
    else active--
  }

  async function run<T> (work: () => Promise<T>): Promise<T> {
    await acquire()
    try {
      return await work()
    } finally {
      release()
    }
  }

  return { run, stats: () => ({ active, waiting: waiting.length }) }
}

export const DEFAULT_HASHING_LIMITS: HashingLimits = { concurrency: 2, queue: 16, maxWaitMs: 5_000 }

/** scrypt with its parameters in the string: `$scrypt$ln=17,r=8,p=1$<salt>$<key>` (base64url). */
export function createPasswordHasher (cost: number, limits: HashingLimits = DEFAULT_HASHING_LIMITS): PasswordHasher {
  const limiter = createWorkLimiter(limits)

  async function computeHash (password: string): Promise<string> {
    const salt = randomBytes(16)
    const key = await scrypt(password, salt, KEY_LENGTH, scryptOptions(cost, R, P))
    return `$scrypt$ln=${cost},r=${R},p=${P}$${salt.toString('base64url')}$${key.toString('base64url')}`
  }

  // The hash that unknown accounts are checked against, made once, outside the limiter.
  let dummy: Promise<string> | null = null

  async function verify (password: string, stored: string | null): Promise<boolean> {
    dummy ??= computeHash(randomBytes(24).toString('base64url'))
    const target = stored ?? await dummy
    const match = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([\w-]+)\$([\w-]+)$/.exec(target)
    if (match === null) return false
    const [, logN, r, p, salt, key] = match
    const expected = Buffer.from(key, 'base64url')
    const actual = await limiter.run(async () => await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, scryptOptions(Number(logN), Number(r), Number(p))))
    return stored !== null && timingSafeEqual(actual, expected)
  }

  return { hash: async (password) => await limiter.run(async () => await computeHash(password)), verify }
}
