import type { Knex } from 'knex'
import type { AccountFlowDeps } from './account-flows'
import { selfAction } from '../kernel/events'
import { isoNow } from '../kernel/clock'
import { NotFound, throwIfInvalid, type FieldErrors } from '../kernel/errors'
import { newAccountErrors, requireEmail, type NewAccountInput } from '../accounts/account-rules'
import { findStoredAccount, insertAccount, updateAccount, type Account, type StoredAccount } from '../accounts/account-store'
import { createAccountTokens, type TokenMessages } from '../accounts/account-tokens'
import type { Accounts } from '../accounts/accounts'
import type { Deferred } from '../kernel/background-work'
import type { Settings } from '../settings/settings'

export interface SignUpDeps extends AccountFlowDeps {
  settings: Settings
  accounts: Accounts
  confirmationTtlHours: number
}

export interface SignUpInput extends NewAccountInput {
  acceptTerms: boolean
}

const CONFIRM: TokenMessages = {
  notFound: 'This confirmation link is not valid: it was used already or replaced by a newer one.',
  expired: 'This confirmation link has expired. Sign up again, or ask for a new link from the sign-in page.'
}

/** A pending account that came from sign-up (it holds a password), not from an invitation. */
function isUnconfirmedSignUp (account: StoredAccount): boolean {
  return account.state === 'pending' && account.passwordHash !== null
}

/** Self sign-up, its confirmation link and the resend of that link. */
export function createSignUp ({ db, hasher, clock, events, outbox, mailBudget, settings, accounts, publicUrl, confirmationTtlHours }: SignUpDeps) {
  const tokens = createAccountTokens(clock)

  async function sendConfirmation (trx: Knex.Transaction, account: Account): Promise<void> {
    const { token } = await tokens.issueToken(trx, account.id, 'signup-confirmation', { ttlMs: confirmationTtlHours * 3_600_000 })
    await outbox.queueRequiredEmail(trx, 'signup-confirmation', account, { ConfirmUrl: `${publicUrl}/confirm/${token}` })
  }

  /**
   * Sign-up. The answer is the same whether or not the email is taken: a new email gets a pending
   * account and a confirmation link; an unconfirmed one gets a new link; the owner of an existing
   * account gets a notice that someone tried. The password is hashed either way, so timing matches.
   */
  async function signUp (input: SignUpInput, ip: string | null): Promise<void> {
    const current = await settings.getSettings()
    if (!current.signupEnabled || !current.passwordSignIn) throw new NotFound()
    const errors: FieldErrors = newAccountErrors(input)
    if (current.termsOfUse !== '' && !input.acceptTerms) errors.acceptTerms = 'Agree to the terms of use to sign up.'
    throwIfInvalid(errors)
    await mailBudget.reserve(input.email)
    const passwordHash = await hasher.hash(input.password)
    await db.transaction(async (trx) => {
      const existing = await findStoredAccount(trx, { email: input.email })
      if (existing !== undefined) {
        if (isUnconfirmedSignUp(existing)) {
          await updateAccount(trx, { id: existing.id }, { passwordHash }, isoNow(clock))
          await sendConfirmation(trx, existing)
        } else {
          await outbox.queueEmail(trx, 'account-exists', existing)
        }
        return
      }
      const account = await insertAccount(trx, input, 'pending', passwordHash, isoNow(clock))
      await sendConfirmation(trx, account)
      await events.record(trx, { ...selfAction(account, ip), action: 'developer.signed-up' })
    })
  }

  /**
   * "Resend the confirmation": same answer for any email; only an unconfirmed sign-up gets a link.
   * The look-up is handed back to run after the answer, so the answer's timing tells nothing.
   */
  async function resendConfirmation (email: string): Promise<Deferred> {
    requireEmail(email)
    await mailBudget.reserve(email)
    return async () => {
      await db.transaction(async (trx) => {
        const pending = await findStoredAccount(trx, { email, state: 'pending' })
        if (pending !== undefined && isUnconfirmedSignUp(pending)) await sendConfirmation(trx, pending)
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
      const account = await accounts.activatePendingIn(trx, pending)
      await events.record(trx, { ...selfAction(account, ip), action: 'developer.confirmed' })
      return account
    })
  }

  return { signUp, resendConfirmation, findConfirmation, confirmSignUp }
}

export type SignUp = ReturnType<typeof createSignUp>
