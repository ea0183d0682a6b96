import type { Knex } from 'knex'
import type { Actor, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { Conflict, throwIfInvalid, type FieldErrors } from '../kernel/errors'
import type { PasswordHasher } from '../accounts/passwords'
import { emailProblem, hashNewPassword, nameErrors, type NameInput } from '../accounts/account-rules'
import { ACCOUNT_COLUMNS, deleteAccount, findAccount, findStoredAccount, insertAccounts, normalizeEmail, toAccount, type Account, type AccountRow } from '../accounts/account-store'
import type { Accounts } from '../accounts/accounts'
import { createAccountTokens } from '../accounts/account-tokens'
import type { Outbox } from '../mail/outbox'
import { formatDate } from '../../format'
import type { EmailStatus } from '../mail/outbox'

export interface InviteInput extends NameInput {
  email: string
}

export interface InvitationsDeps {
  db: Knex
  hasher: PasswordHasher
  clock: Clock
  events: Events
  accounts: Accounts
  outbox: Outbox
  publicUrl: string
  ttlHours: number
}

export interface PendingInvitation {
  account: Account
  invitedBy: string | null
  sentAt: string
  expiresAt: string
  expired: boolean
  emailStatus: EmailStatus | null
  emailId: number | null
}

export interface InviteResult {
  account: Account
  resent: boolean
  expiresAt: string
}

const PURPOSE = 'invitation'

/** Pending accounts joined with their live invitation: the pending-invitations list, and its count on the home. */
export function pendingInvitations (q: Knex | Knex.Transaction): Knex.QueryBuilder {
  return q('developers')
    .join('invitation_tokens', 'invitation_tokens.developer_id', 'developers.id')
    .where('developers.state', 'pending')
    .where('invitation_tokens.purpose', PURPOSE)
    .whereNull('invitation_tokens.used_at')
    .whereNull('invitation_tokens.ended_at')
}
const MESSAGES = {
  notFound: 'This invitation link is not valid: it was used, revoked or replaced by a newer one.',
  expired: 'This invitation has expired. Ask the person who invited you for a new invitation.'
}

export interface InviteOutcome {
  account: Account
  /** invited: a new pending account; resent: a new link for a pending one; exists: nothing done. */
  outcome: 'invited' | 'resent' | 'exists'
  expiresAt: string | null
}

/** One line of a bulk invitation: its problems (nothing done), or what was done. */
export interface ManyInvited {
  input: InviteInput
  errors: FieldErrors
  outcome: InviteOutcome['outcome'] | null
  account: Account | null
}

/** The rules of an invitation's fields: a name and an email address. */
export function inviteErrors (input: InviteInput): FieldErrors {
  const errors = nameErrors(input)
  const email = emailProblem(input.email)
  if (email !== null) errors.email = email
  return errors
}

export function createInvitations ({ db, hasher, clock, events, accounts, outbox, publicUrl, ttlHours }: InvitationsDeps) {
  const tokens = createAccountTokens(clock)

  /** Ends the account's open links and issues a new one, with its email, in the caller's transaction. */
  async function issueInvitation (trx: Knex.Transaction, account: Account, actor: Actor): Promise<string> {
    const { token, expiresAt } = await tokens.issueToken(trx, account.id, PURPOSE, { ttlMs: ttlHours * 3_600_000, createdBy: actor.id })
    await outbox.queueRequiredEmail(trx, 'invitation', account, { ConfirmUrl: `${publicUrl}/invitations/${token}`, ExpiresAt: formatDate(expiresAt) })
    return expiresAt
  }

  async function pendingAccount (trx: Knex | Knex.Transaction, id: number): Promise<Account> {
    return await findAccount(trx, id, 'pending', 'There is no pending invitation with this id.')
  }

  /**
   * Invites one person inside the caller's transaction. An existing pending account is sent a new
   * link (`pending: 'resend'`, the Invite page's rule) or left as it is (`'skip'`: an import run
   * again changes nothing); an active or blocked one is never invited.
   */
  async function inviteIn (trx: Knex.Transaction, input: InviteInput, actor: Actor, pending: 'resend' | 'skip'): Promise<InviteOutcome> {
    const existing = await findStoredAccount(trx, { email: input.email })
    if (existing === undefined) return (await inviteNew(trx, [input], actor))[0]
    if (existing.state !== 'pending' || pending === 'skip') return { account: existing, outcome: 'exists', expiresAt: null }
    const expiresAt = await issueInvitation(trx, existing, actor)
    await events.record(trx, { actor, action: 'invitation.resent', target: { type: 'developer', id: existing.id, label: existing.email } })
    return { account: existing, outcome: 'resent', expiresAt }
  }

  /**
   * Invites people who have no account (the caller has checked, in this transaction): pending
   * accounts, links, emails and audit entries, a few statements for many (a CSV import).
   */
  async function inviteNew (trx: Knex.Transaction, inputs: InviteInput[], actor: Actor): Promise<InviteOutcome[]> {
    const accounts = await insertAccounts(trx, inputs, 'pending', null, isoNow(clock))
    const links = await tokens.issueFirstTokens(trx, accounts.map((a) => a.id), PURPOSE, { ttlMs: ttlHours * 3_600_000, createdBy: actor.id })
    await outbox.queueRequiredEmails(trx, 'invitation', accounts.map((to, i) => ({ to, values: { ConfirmUrl: `${publicUrl}/invitations/${links[i].token}`, ExpiresAt: formatDate(links[i].expiresAt) } })))
    await events.record(trx, accounts.map((account) => ({ actor, action: 'developer.invited', target: { type: 'developer', id: account.id, label: account.email } })))
    return accounts.map((account, i) => ({ account, outcome: 'invited', expiresAt: links[i].expiresAt }))
  }

  /** Invite: a pending account, a link, an email. Inviting a pending email again resends. */
  async function inviteDeveloper (input: InviteInput, actor: Actor): Promise<InviteResult> {
    const errors = inviteErrors(input)
    throwIfInvalid(errors)
    return await db.transaction(async (trx) => {
      const { account, outcome, expiresAt } = await inviteIn(trx, input, actor, 'resend')
      if (outcome === 'exists' || expiresAt === null) {
        throw new Conflict('email', `An account with this email address already exists (${account.state}); there is no need to invite it.`)
      }
      return { account, resent: outcome === 'resent', expiresAt }
    })
  }

  /**
   * Invites many in one transaction, each by the rules of one invitation: invalid lines are
   * reported, not written; an address listed twice is invited once.
   */
  async function inviteMany (inputs: InviteInput[], actor: Actor, pending: 'resend' | 'skip'): Promise<ManyInvited[]> {
    const results: ManyInvited[] = inputs.map((input) => ({ input, errors: inviteErrors(input), outcome: null, account: null }))
    const seen = new Set<string>()
    for (const result of results) {
      const email = normalizeEmail(result.input.email)
      if (Object.keys(result.errors).length === 0 && seen.has(email)) result.errors = { email: 'This address is listed more than once; it is invited once.' }
      seen.add(email)
    }
    await db.transaction(async (trx) => {
      for (const result of results) {
        if (Object.keys(result.errors).length > 0) continue
        const { account, outcome } = await inviteIn(trx, result.input, actor, pending)
        result.account = account
        result.outcome = outcome
      }
    })
    return results
  }

  async function resendInvitation (id: number, actor: Actor): Promise<InviteResult> {
    return await db.transaction(async (trx) => {
      const account = await pendingAccount(trx, id)
      const expiresAt = await issueInvitation(trx, account, actor)
      await events.record(trx, { actor, action: 'invitation.resent', target: { type: 'developer', id: account.id, label: account.email } })
      return { account, resent: true, expiresAt }
    })
  }

  /** Revoke: the link ends and the pending account goes (its tokens with it). */
  async function revokeInvitation (id: number, actor: Actor): Promise<Account> {
    return await db.transaction(async (trx) => {
      const account = await pendingAccount(trx, id)
      await deleteAccount(trx, { id, state: 'pending' }, isoNow(clock))
      await events.record(trx, { actor, action: 'invitation.revoked', target: { type: 'developer', id: account.id, label: account.email } })
      return account
    })
  }

  async function getPendingInvitation (id: number): Promise<Account> {
    return await pendingAccount(db, id)
  }

  /** Pending invitations with their latest link and the delivery status of its email. */
  async function listPendingInvitations (): Promise<PendingInvitation[]> {
    const rows: Array<AccountRow & { token_created_at: string, expires_at: string, invited_by: string | null }> = await pendingInvitations(db)
      .leftJoin('developers as inviter', 'inviter.id', 'invitation_tokens.created_by')
      .orderBy('invitation_tokens.created_at', 'desc')
      .select(...ACCOUNT_COLUMNS.map((c) => `developers.${c}`), 'invitation_tokens.created_at as token_created_at', 'invitation_tokens.expires_at', 'inviter.email as invited_by')
    const emails: Array<{ id: number, developer_id: number, status: EmailStatus }> = rows.length === 0
      ? []
      : await db('outbox_emails').whereIn('developer_id', rows.map((r) => r.id)).where('template', 'invitation').orderBy('id').select('id', 'developer_id', 'status')
    const now = isoNow(clock)
    return rows.map((row) => {
      const email = emails.filter((e) => e.developer_id === row.id).at(-1)
      return {
        account: toAccount(row),
        invitedBy: row.invited_by,
        sentAt: row.token_created_at,
        expiresAt: row.expires_at,
        expired: row.expires_at <= now,
        emailStatus: email?.status ?? null,
        emailId: email?.id ?? null
      }
    })
  }

  /** The invitation behind a link: 404 when unknown, used or ended; 410 when expired. */
  async function findByToken (token: string): Promise<Account> {
    return (await tokens.findTokenAccount(db, token, PURPOSE, 'pending', MESSAGES)).account
  }

  /**
   * Accept: the token is spent by one conditional UPDATE (of two simultaneous accepts exactly one
   * wins), then the account becomes active, joins Developers and gets the welcome email.
   */
  async function acceptInvitation (token: string, password: string, ip: string | null): Promise<Account> {
    const account = await findByToken(token)
    const passwordHash = await hashNewPassword(hasher, password, account.email)
    return await db.transaction(async (trx) => {
      await tokens.spendToken(trx, token, PURPOSE, MESSAGES)
      const active = await accounts.activatePendingIn(trx, account, { passwordHash, signIn: true })
      await events.record(trx, { actor: { id: account.id, label: account.email, ip }, action: 'invitation.accepted', target: { type: 'developer', id: account.id, label: account.email } })
      return active
    })
  }

  return { inviteDeveloper, inviteMany, inviteIn, inviteNew, resendInvitation, revokeInvitation, getPendingInvitation, listPendingInvitations, findByToken, acceptInvitation }
}

export type Invitations = ReturnType<typeof createInvitations>
