import type { AccountFlowDeps } from './account-flows'
import { selfAction } from '../kernel/events'
import { isoNow } from '../kernel/clock'
import type { PasswordChecks } from '../accounts/password-checks'
import { hashNewPassword, requireEmail } from '../accounts/account-rules'
import { findStoredAccount, updateAccount, type Account } from '../accounts/account-store'
import { createAccountTokens, type TokenMessages } from '../accounts/account-tokens'
import type { Deferred } from '../kernel/background-work'

export interface PasswordResetDeps extends AccountFlowDeps {
  passwordChecks: PasswordChecks
}

const HOUR_MS = 3_600_000
const RESET: TokenMessages = {
  notFound: 'This password reset link is not valid: it was used already or replaced by a newer one.',
  expired: 'This password reset link has expired (links work for one hour). Ask for a new one.'
}

/** "Forgot your password": a one-hour, single-use link by email; using it ends every session. */
export function createPasswordReset ({ db, hasher, passwordChecks, clock, events, outbox, mailBudget, publicUrl }: PasswordResetDeps) {
  const tokens = createAccountTokens(clock)

  /**
   * Same answer for every email, in the same time: the look-up is handed back to run after the
   * answer. Only an active account gets the link, valid one hour.
   */
  async function requestPasswordReset (email: string): Promise<Deferred> {
    requireEmail(email)
    await mailBudget.reserve(email)
    return async () => {
      await db.transaction(async (trx) => {
        const account = await findStoredAccount(trx, { email, state: 'active' })
        if (account === undefined) return
        const { token } = await tokens.issueToken(trx, account.id, 'password-reset', { ttlMs: HOUR_MS })
        await outbox.queueRequiredEmail(trx, 'password-reset', account, { ConfirmUrl: `${publicUrl}/password-reset/${token}` })
      })
    }
  }

  async function findPasswordReset (token: string): Promise<Account> {
    return (await tokens.findTokenAccount(db, token, 'password-reset', 'active', RESET)).account
  }

  /** A new password from a reset link: single use, and every session of the account ends. */
  async function resetPassword (token: string, password: string, ip: string | null): Promise<Account> {
    const account = await findPasswordReset(token)
    const passwordHash = await hashNewPassword(hasher, password, account.email)
    return await db.transaction(async (trx) => {
      await tokens.spendToken(trx, token, 'password-reset', RESET)
      await updateAccount(trx, { id: account.id, state: 'active' }, { passwordHash }, isoNow(clock))
      await trx('sessions').where('account_id', account.id).del()
      // Securing the account: a pending email change (perhaps an intruder's) ends too.
      await tokens.endTokens(trx, account.id, 'email-change')
      // The owner proved themselves by email: earlier failed guesses no longer count.
      await passwordChecks.succeeded(account.email, trx)
      await events.record(trx, { ...selfAction(account, ip), action: 'developer.password-reset' })
      return account
    })
  }

  return { requestPasswordReset, findPasswordReset, resetPassword }
}

export type PasswordReset = ReturnType<typeof createPasswordReset>
