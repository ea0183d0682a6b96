import type { Knex } from 'knex'
import type { AccountFlowDeps } from '../onboarding/account-flows'
import { selfAction } from '../kernel/events'
import { isoNow } from '../kernel/clock'
import { Conflict, Invalid, NotFound, throwIfInvalid } from '../kernel/errors'
import type { PasswordChecks } from '../accounts/password-checks'
import { hashNewPassword, nameErrors, requireEmail, type NameInput } from '../accounts/account-rules'
import { deleteAccount, findStoredAccount, normalizeEmail, updateAccount, type Account, type StoredAccount } from '../accounts/account-store'
import { keepAnActiveAdministrator } from '../accounts/administrators'
import { createAccountTokens, type TokenMessages } from '../accounts/account-tokens'
import type { Deferred } from '../kernel/background-work'

export interface ProfileDeps extends AccountFlowDeps {
  passwordChecks: PasswordChecks
  confirmationTtlHours: number
}

const EMAIL_CHANGE: TokenMessages = {
  notFound: 'This confirmation link is not valid: it was used already or replaced by a newer one.',
  expired: 'This confirmation link has expired. Change your email again from your profile.'
}

/** What signed-in developers do with their own account: name, email, password, closing it. */
export function createProfile ({ db, hasher, passwordChecks, clock, events, outbox, mailBudget, publicUrl, confirmationTtlHours }: ProfileDeps) {
  const tokens = createAccountTokens(clock)

  async function updateName (id: number, input: NameInput): Promise<void> {
    const errors = nameErrors(input)
    throwIfInvalid(errors)
    await updateAccount(db, { id }, { name: input }, isoNow(clock))
  }

  /** The account's password, checked against the email's budget of password checks. */
  async function checkPassword (id: number, password: string, field: string): Promise<StoredAccount> {
    const account = await findStoredAccount(db, { id })
    if (account === undefined || !(await passwordChecks.verify(account.email, password, account.passwordHash))) {
      throw new Invalid({ [field]: 'That is not your current password.' })
    }
    await passwordChecks.succeeded(account.email)
    return account
  }

  /**
   * Needs the current password. The new address gets a link (the change applies only when it is
   * confirmed) and the current one a notice with how to secure the account. The look-up of the new
   * address is handed back to run after the answer: a taken address gets no link, and neither the
   * answer nor its timing says so.
   */
  async function requestEmailChange (account: Account, newEmail: string, currentPassword: string): Promise<Deferred> {
    requireEmail(newEmail)
    if (normalizeEmail(newEmail) === normalizeEmail(account.email)) throw new Invalid({ email: 'This is already your email address.' })
    await checkPassword(account.id, currentPassword, 'password')
    // The confirmation template must be on, or no change could ever complete: say so now.
    await outbox.requireEnabled('email-change')
    await mailBudget.reserve(newEmail)
    await mailBudget.reserve(account.email)
    return async () => {
      await db.transaction(async (trx) => {
        await outbox.queueEmail(trx, 'email-change-notice', account, { NewEmail: newEmail.trim(), PasswordResetUrl: `${publicUrl}/password-reset` })
        if (await findStoredAccount(trx, { email: newEmail }) !== undefined) return
        const { token } = await tokens.issueToken(trx, account.id, 'email-change', { ttlMs: confirmationTtlHours * 3_600_000, newEmail: newEmail.trim() })
        await outbox.queueRequiredEmail(trx, 'email-change', { ...account, email: newEmail.trim() }, { ConfirmUrl: `${publicUrl}/profile/email/${token}` })
      })
    }
  }

  async function findEmailChange (token: string, trx: Knex | Knex.Transaction = db): Promise<{ account: Account, newEmail: string }> {
    const { row, account } = await tokens.findTokenAccount(trx, token, 'email-change', 'active', EMAIL_CHANGE)
    if (row.new_email === null) throw new NotFound(EMAIL_CHANGE.notFound)
    return { account, newEmail: row.new_email }
  }

  async function confirmEmailChange (token: string, ip: string | null): Promise<Account> {
    return await db.transaction(async (trx) => {
      const { account, newEmail } = await findEmailChange(token, trx)
      await tokens.spendToken(trx, token, 'email-change', EMAIL_CHANGE)
      const taken = new Conflict('email', 'Another account uses this email address now.')
      if (await findStoredAccount(trx, { email: newEmail }) !== undefined) throw taken
      // A writer that took the address meanwhile (PostgreSQL): the unique index refuses, a 409 too.
      await updateAccount(trx, { id: account.id }, { email: newEmail }, isoNow(clock)).catch((err: unknown) => { throw err instanceof Conflict ? taken : err })
      // Reset links went to the old address: they end with it.
      await tokens.endTokens(trx, account.id, 'password-reset')
      await events.record(trx, { ...selfAction(account, ip), action: 'developer.email-changed', details: { from: account.email, to: newEmail } })
      return { ...account, email: newEmail }
    })
  }

  /** Change password: the other sessions of the account end; the caller keeps (a regenerated) one. */
  async function changePassword (id: number, currentPassword: string, newPassword: string, keepSessionId: string): Promise<void> {
    const account = await checkPassword(id, currentPassword, 'currentPassword')
    const passwordHash = await hashNewPassword(hasher, newPassword, account.email, 'newPassword')
    await db.transaction(async (trx) => {
      await updateAccount(trx, { id }, { passwordHash }, isoNow(clock))
      await trx('sessions').where('account_id', id).whereNot('sid', keepSessionId).del()
      await tokens.endTokens(trx, id, 'password-reset')
    })
  }

  /** Close one's own account, with the password: removed, farewell email. */
  async function closeAccount (id: number, password: string, ip: string | null): Promise<Account> {
    const { passwordHash: _, ...account } = await checkPassword(id, password, 'password')
    return await db.transaction(async (trx) => {
      await keepAnActiveAdministrator(trx, account)
      await outbox.queueEmail(trx, 'farewell', account)
      await deleteAccount(trx, { id }, isoNow(clock))
      await events.record(trx, { ...selfAction(account, ip), action: 'developer.closed-account' })
      return account
    })
  }

  return { checkPassword, updateName, requestEmailChange, findEmailChange, confirmEmailChange, changePassword, closeAccount }
}

export type Profile = ReturnType<typeof createProfile>
