import type { Knex } from 'knex'
import { recordAudit } from '../audit'
import { isoNow, type Clock } from '../clock'
import { Conflict, Invalid, NotFound, Refused, TooManyRequests, type FieldErrors } from '../errors'
import type { PasswordHasher } from '../accounts/passwords'
import { emailProblem, hashNewPassword, nameErrors, newAccountErrors, type NameInput, type NewAccountInput } from '../accounts/account-rules'
import { countOtherActiveAdministrators, displayName, insertAccount, isAdministrator, normalizeEmail, normalizeName, toAccount, type Account, type AccountRow } from '../accounts/account-store'
import { createAccountTokens, type TokenMessages } from '../onboarding/single-use-links'
import { activatePendingAccount } from '../onboarding/activate-account'
import type { Outbox } from '../mail/outbox'
import type { Settings } from '../settings'
import { isUniqueViolation, lockAdministrators } from '../../db/knex'
import type { AttemptLimits } from '../attempt-limits'
import type { Deferred } from '../background'
import type { PasswordChecks } from '../accounts/password-checks'

export interface SelfServiceDeps {
  db: Knex
  hasher: PasswordHasher
  passwordChecks: PasswordChecks
  limits: AttemptLimits
  /** Emails a visitor can have sent to one address in an hour. */
  emailsPerAddressPerHour: number
  clock: Clock
  outbox: Outbox
  settings: Settings
  publicUrl: string
  confirmationTtlHours: number
}

export interface SignUpInput extends NewAccountInput {
  acceptTerms: boolean
}

const HOUR_MS = 3_600_000
const CONFIRM: TokenMessages = {
  notFound: 'This confirmation link is not valid: it was used already or replaced by a newer one.',
  expired: 'This confirmation link has expired. Sign up again, or ask for a new link from the sign-in page.'
}
const RESET: TokenMessages = {
  notFound: 'This password reset link is not valid: it was used already or replaced by a newer one.',
  expired: 'This password reset link has expired (links work for one hour). Ask for a new one.'
}
const EMAIL_CHANGE: TokenMessages = {
  notFound: 'This confirmation link is not valid: it was used already or replaced by a newer one.',
  expired: 'This confirmation link has expired. Change your email again from your profile.'
}

function self (account: Pick<Account, 'id' | 'email'>, ip: string | null) {
  return { actor: { id: account.id, label: account.email, ip }, target: { type: 'developer', id: account.id, label: account.email } }
}

/** What developers do for themselves: sign up, confirm, edit their profile, passwords, close. */
export function createSelfService ({ db, hasher, passwordChecks, limits, emailsPerAddressPerHour, clock, outbox, settings, publicUrl, confirmationTtlHours }: SelfServiceDeps) {
  const tokens = createAccountTokens(clock)

  /**
   * Counts an email a visitor asks us to send to `address` (whether or not it will go out, so the
   * answer reveals nothing): past the hourly limit, 429.
   */
  async function reserveEmail (address: string): Promise<void> {
    const reservation = await limits.reserve('email-sent', normalizeEmail(address), emailsPerAddressPerHour, HOUR_MS)
    if (!reservation.allowed) {
      throw new TooManyRequests('Too many emails were asked for this address. Wait a while and try again.', reservation.retryAfterSeconds)
    }
  }

  async function accountRow (trx: Knex | Knex.Transaction, where: Record<string, unknown>): Promise<AccountRow | undefined> {
    return await trx('developers').where(where).first()
  }

  async function sendConfirmation (trx: Knex.Transaction, account: Account): Promise<void> {
    const { token } = await tokens.issueToken(trx, account.id, 'signup-confirmation', { ttlMs: confirmationTtlHours * HOUR_MS })
    await outbox.queueRequiredEmail(trx, 'signup-confirmation', account, { ConfirmUrl: `${publicUrl}/confirm/${token}` })
  }

  /**
   * Sign-up. The answer is the same whether or not the email is taken: a new email gets a pending
   * account and a confirmation link; an unconfirmed one gets a new link; the owner of an existing
   * account gets a notice that someone tried. The password is hashed either way, so timing matches.
   */
  async function signUp (input: SignUpInput, ip: string | null): Promise<void> {
    const current = await settings.getSettings()
    if (!current.signupEnabled) throw new NotFound()
    const errors: FieldErrors = newAccountErrors(input)
    if (current.termsOfUse !== '' && !input.acceptTerms) errors.acceptTerms = 'Agree to the terms of use to sign up.'
    if (Object.keys(errors).length > 0) throw new Invalid(errors)
    await reserveEmail(input.email)
    const passwordHash = await hasher.hash(input.password)
    await db.transaction(async (trx) => {
      const existing = await accountRow(trx, { email_normalized: normalizeEmail(input.email) })
      if (existing !== undefined) {
        if (existing.state === 'pending' && await isUnconfirmedSignUp(trx, existing.id)) {
          await trx('developers').where('id', existing.id).update({ password_hash: passwordHash, updated_at: isoNow(clock) })
          await sendConfirmation(trx, toAccount(existing))
        } else {
          await outbox.queueEmail(trx, 'account-exists', toAccount(existing))
        }
        return
      }
      const account = await insertAccount(trx, input, 'pending', passwordHash, isoNow(clock))
      await sendConfirmation(trx, account)
      await recordAudit(trx, clock, { ...self(account, ip), action: 'developer.signed-up' })
    })
  }

  /** A pending account that came from sign-up (it holds a password), not from an invitation. */
  async function isUnconfirmedSignUp (trx: Knex | Knex.Transaction, id: number): Promise<boolean> {
    const row = await trx('developers').where({ id, state: 'pending' }).whereNotNull('password_hash').first('id')
    return row !== undefined
  }

  /**
   * "Resend the confirmation": same answer for any email; only an unconfirmed sign-up gets a link.
   * The look-up is handed back to run after the answer, so the answer's timing tells nothing.
   */
  async function resendConfirmation (email: string): Promise<Deferred> {
    if (emailProblem(email) !== null) throw new Invalid({ email: emailProblem(email) ?? '' })
    await reserveEmail(email)
    return async () => {
      await db.transaction(async (trx) => {
        const row = await accountRow(trx, { email_normalized: normalizeEmail(email), state: 'pending' })
        if (row !== undefined && await isUnconfirmedSignUp(trx, row.id)) await sendConfirmation(trx, toAccount(row))
      })
    }
  }

  async function findConfirmation (token: string): Promise<Account> {
    return (await tokens.findTokenAccount(db, token, 'signup-confirmation', 'pending', CONFIRM)).account
  }

  /** Confirm (POST only): active, in Developers, welcome email. */
  async function confirmSignUp (token: string, ip: string | null): Promise<Account> {
    return await db.transaction(async (trx) => {
      const { account: pending } = await tokens.findTokenAccount(trx, token, 'signup-confirmation', 'pending', CONFIRM)
      await tokens.spendToken(trx, token, 'signup-confirmation', CONFIRM)
      const account = await activatePendingAccount(trx, clock, outbox, pending)
      await recordAudit(trx, clock, { ...self(account, ip), action: 'developer.confirmed' })
      return account
    })
  }

  async function updateName (id: number, input: NameInput): Promise<void> {
    const errors = nameErrors(input)
    if (Object.keys(errors).length > 0) throw new Invalid(errors)
    await db('developers').where('id', id).update({
      first_name: input.firstName.trim(), last_name: input.lastName.trim(), name_normalized: normalizeName(input.firstName, input.lastName), updated_at: isoNow(clock)
    })
  }

  /**
   * Needs the current password. The new address gets a link (the change applies only when it is
   * confirmed) and the current one a notice with how to secure the account. The look-up of the new
   * address is handed back to run after the answer: a taken address gets no link, and neither the
   * answer nor its timing says so.
   */
  async function requestEmailChange (account: Account, newEmail: string, currentPassword: string): Promise<Deferred> {
    const problem = emailProblem(newEmail)
    if (problem !== null) throw new Invalid({ email: problem })
    if (normalizeEmail(newEmail) === normalizeEmail(account.email)) throw new Invalid({ email: 'This is already your email address.' })
    await checkPassword(account.id, currentPassword, 'password')
    // The confirmation template must be on, or no change could ever complete: say so now.
    await outbox.requireEnabled('email-change')
    await reserveEmail(newEmail)
    await reserveEmail(account.email)
    return async () => {
      await db.transaction(async (trx) => {
        await outbox.queueEmail(trx, 'email-change-notice', account, { NewEmail: newEmail.trim(), PasswordResetUrl: `${publicUrl}/password-reset` })
        if (await accountRow(trx, { email_normalized: normalizeEmail(newEmail) }) !== undefined) return
        const { token } = await tokens.issueToken(trx, account.id, 'email-change', { ttlMs: confirmationTtlHours * HOUR_MS, newEmail: newEmail.trim() })
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
      if (await accountRow(trx, { email_normalized: normalizeEmail(newEmail) }) !== undefined) throw taken
      await trx('developers').where('id', account.id).update({ email: newEmail, email_normalized: normalizeEmail(newEmail), updated_at: isoNow(clock) })
        .catch((err: unknown) => { throw isUniqueViolation(err) ? taken : err })
      // Reset links went to the old address: they end with it.
      await tokens.endTokens(trx, account.id, 'password-reset')
      await recordAudit(trx, clock, { ...self(account, ip), action: 'developer.email-changed', details: { from: account.email, to: newEmail } })
      return { ...account, email: newEmail }
    })
  }

  /** The account's password, checked against the email's budget of password checks. */
  async function checkPassword (id: number, password: string, field: string): Promise<AccountRow> {
    const row = await accountRow(db, { id })
    if (row === undefined || !(await passwordChecks.verify(row.email, password, row.password_hash))) throw new Invalid({ [field]: 'That is not your current password.' })
    await passwordChecks.succeeded(row.email)
    return row
  }

  /** Change password: the other sessions of the account end; the caller keeps (a regenerated) one. */
  async function changePassword (id: number, currentPassword: string, newPassword: string, keepSessionId: string): Promise<void> {
    const row = await checkPassword(id, currentPassword, 'currentPassword')
    const passwordHash = await hashNewPassword(hasher, newPassword, row.email, 'newPassword')
    await db.transaction(async (trx) => {
      await trx('developers').where('id', id).update({ password_hash: passwordHash, updated_at: isoNow(clock) })
      await trx('sessions').where('account_id', id).whereNot('sid', keepSessionId).del()
      await tokens.endTokens(trx, id, 'password-reset')
    })
  }

  /**
   * Same answer for every email, in the same time: the look-up is handed back to run after the
   * answer. Only an active account gets the link, valid one hour.
   */
  async function requestPasswordReset (email: string): Promise<Deferred> {
    if (emailProblem(email) !== null) throw new Invalid({ email: emailProblem(email) ?? '' })
    await reserveEmail(email)
    return async () => {
      await db.transaction(async (trx) => {
        const row = await accountRow(trx, { email_normalized: normalizeEmail(email), state: 'active' })
        if (row === undefined) return
        const { token } = await tokens.issueToken(trx, row.id, 'password-reset', { ttlMs: HOUR_MS })
        await outbox.queueRequiredEmail(trx, 'password-reset', toAccount(row), { ConfirmUrl: `${publicUrl}/password-reset/${token}` })
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
      await trx('developers').where({ id: account.id, state: 'active' }).update({ password_hash: passwordHash, updated_at: isoNow(clock) })
      await trx('sessions').where('account_id', account.id).del()
      // Securing the account: a pending email change (perhaps an intruder's) ends too.
      await tokens.endTokens(trx, account.id, 'email-change')
      // The owner proved themselves by email: earlier failed guesses no longer count.
      await passwordChecks.succeeded(account.email, trx)
      await recordAudit(trx, clock, { ...self(account, ip), action: 'developer.password-reset' })
      return account
    })
  }

  /** Close one's own account, with the password: removed, farewell email. */
  async function closeAccount (id: number, password: string, ip: string | null): Promise<Account> {
    const row = await checkPassword(id, password, 'password')
    return await db.transaction(async (trx) => {
      const account = toAccount(row)
      await lockAdministrators(trx)
      if (await isAdministrator(trx, id) && await countOtherActiveAdministrators(trx, id) === 0) {
        throw new Refused(`${displayName(account)}, you are the last active administrator: make another account an administrator before closing yours.`)
      }
      await outbox.queueEmail(trx, 'farewell', account)
      await trx('developers').where('id', id).del()
      await recordAudit(trx, clock, { ...self(account, ip), action: 'developer.closed-account' })
      return account
    })
  }

  return {
    signUp, resendConfirmation, findConfirmation, confirmSignUp, updateName, requestEmailChange, findEmailChange,
    confirmEmailChange, changePassword, requestPasswordReset, findPasswordReset, resetPassword, closeAccount
  }
}

export type SelfService = ReturnType<typeof createSelfService>
