import type { Knex } from 'knex'
import type { AttemptLimits } from '../kernel/attempt-limits'
import { normalizeEmail } from './account-store'
import { TooManyRequests } from '../kernel/errors'
import type { PasswordHasher } from './passwords'

export interface PasswordChecksDeps {
  limits: AttemptLimits
  hasher: PasswordHasher
  /** Password checks allowed per email within the window (SIGNIN_FAILURE_LIMIT). */
  limit: number
  windowMinutes: number
}

export const PASSWORD_CHECKS_EXHAUSTED = 'Too many failed password attempts for this email. Wait a few minutes and try again.'

/**
 * Every check of a password against an account (sign-in, password change, email change, closing
 * an account) goes through here: the check is reserved against the email's budget before the slow
 * hash runs, so at most `limit` checks happen per email per window, however many arrive at once and
 * on however many instances. A right password starts the budget again.
 */
export function createPasswordChecks ({ limits, hasher, limit, windowMinutes }: PasswordChecksDeps) {
  async function verify (email: string, password: string, storedHash: string | null): Promise<boolean> {
    const reservation = await limits.reserve('password-check', normalizeEmail(email), limit, windowMinutes * 60_000)
    if (!reservation.allowed) throw new TooManyRequests(PASSWORD_CHECKS_EXHAUSTED, reservation.retryAfterSeconds)
    return await hasher.verify(password, storedHash)
  }

  /** After a successful sign-in or check: the failures before it no longer count. */
  async function succeeded (email: string, trx?: Knex.Transaction): Promise<void> {
    await limits.clear('password-check', normalizeEmail(email), trx)
  }

  return { verify, succeeded }
}

export type PasswordChecks = ReturnType<typeof createPasswordChecks>
