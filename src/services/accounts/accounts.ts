import type { Knex } from 'knex'
import type { Actor, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { DomainError, NotFound, Refused, throwIfInvalid } from '../kernel/errors'
import type { PasswordHasher } from './passwords'
import { newAccountErrors, type NameInput, type NewAccountInput } from './account-rules'
import { INSERT_BATCH, deleteAccount as removeAccount, findAccount, findAccounts, insertAccounts, recordSignIn, updateAccount, type Account, type AccountRecord } from './account-store'
import { createAccountTokens } from './account-tokens'
import { formatDate } from '../../format'
import { administratorExists, keepAnActiveAdministrator } from './administrators'
import { groupIdsForNewAccounts, toGroupSummary, type GroupSummary } from '../groups/group-lookups'
import type { Outbox } from '../mail/outbox'

export interface AccountsDeps {
  db: Knex
  hasher: PasswordHasher
  clock: Clock
  events: Events
  outbox: Outbox
  /** Base of the links in the emails. */
  publicUrl: string
  /** How long the link to choose a first password is valid (INVITATION_TTL_HOURS). */
  linkTtlHours: number
}

/** One account to create: its fields, the groups chosen for it (besides Developers), what its event records besides. */
export interface NewActiveAccount {
  input: AccountRecord
  groupIds: number[]
  details?: Record<string, unknown>
}

export interface NewActiveOptions {
  actor: Actor
  /** Given to every account; null (the default): no password yet. */
  passwordHash?: string | null
  /** 'welcome' (it has a password), 'password-link' (a link to choose one), or none. */
  mail: 'welcome' | 'password-link' | null
  action?: 'developer.created' | 'administrator.created'
  /** The account is its own actor (first-run setup): the event names it. */
  actorIsAccount?: boolean
}

export interface AccountDetails {
  account: Account
  groups: GroupSummary[]
  isAdmin: boolean
}


/** What a state change did: the account (as it is now) and whether it changed. */
interface Changed { account: Account, changed: boolean }

export type StateAction = 'block' | 'activate' | 'delete'

/** One account's result in a bulk action: done, or skipped with the reason. */
export interface BulkOutcome {
  id: number
  account: Account | null
  done: boolean
  reason: string | null
}

export function createAccounts ({ db, hasher, clock, events, outbox, publicUrl, linkTtlHours }: AccountsDeps) {
  const tokens = createAccountTokens(clock)

  function auditTarget (account: Pick<Account, 'id' | 'email'>) {
    return { type: 'developer', id: account.id, label: account.email }
  }

  /**
   * The one way an active account comes to be, in the caller's transaction: Add user, first-run
   * setup, a CSV import (many at once, in few statements) and every later flow. Each account joins
   * Developers plus its chosen groups (groupIdsForNewAccounts: unknown groups and Guests refused),
   * is mailed as `mail` says and recorded as `action`. A taken email (in any case) is refused by
   * the unique index; insertAccounts turns that into a 409.
   */
  async function createActiveIn (trx: Knex.Transaction, news: NewActiveAccount[], options: NewActiveOptions): Promise<Account[]> {
    const { actor, mail, passwordHash = null } = options
    const groupIds = await groupIdsForNewAccounts(trx, news.map((n) => n.groupIds))
    const now = isoNow(clock)
    const accounts = await insertAccounts(trx, news.map((n) => n.input), 'active', passwordHash, now)
    const memberships = accounts.flatMap((account, i) => groupIds[i].map((groupId) => ({ developer_id: account.id, group_id: groupId, created_at: now })))
    for (let i = 0; i < memberships.length; i += INSERT_BATCH) await trx('developer_groups').insert(memberships.slice(i, i + INSERT_BATCH))
    if (mail === 'welcome') {
      await outbox.queueEmails(trx, 'welcome', accounts.map((to) => ({ to })))
    } else if (mail === 'password-link') {
      // No password yet: a link to choose one, like a reset's, valid as long as an invitation.
      const links = await tokens.issueFirstTokens(trx, accounts.map((a) => a.id), 'password-reset', { ttlMs: linkTtlHours * 3_600_000, createdBy: actor.id })
      await outbox.queueRequiredEmails(trx, 'account-created', accounts.map((to, i) => ({
        to, values: { ConfirmUrl: `${publicUrl}/password-reset/${links[i].token}`, ExpiresAt: formatDate(links[i].expiresAt), DevEmail: to.email }
      })))
    }
    await events.record(trx, accounts.map((account, i) => ({
      actor: options.actorIsAccount === true ? { ...actor, id: account.id, label: account.email } : actor,
      action: options.action ?? 'developer.created',
      target: auditTarget(account),
      details: options.action === 'administrator.created' ? undefined : { groupIds: news[i].groupIds, ...news[i].details }
    })))
    return accounts
  }

  /**
   * A pending account becomes active (an accepted invitation, a confirmed sign-up): it joins
   * Developers and gets the welcome email, in the caller's transaction.
   */
  async function activatePendingIn (trx: Knex.Transaction, account: Account, options: { passwordHash?: string, signIn?: boolean } = {}): Promise<Account> {
    const now = isoNow(clock)
    await updateAccount(trx, { id: account.id, state: 'pending' }, { state: 'active', ...(options.passwordHash === undefined ? {} : { passwordHash: options.passwordHash }) }, now)
    if (options.signIn === true) await recordSignIn(trx, account.id, now)
    const [groups] = await groupIdsForNewAccounts(trx, [[]])
    await trx('developer_groups').insert(groups.map((groupId) => ({ developer_id: account.id, group_id: groupId, created_at: now }))).onConflict(['developer_id', 'group_id']).ignore()
    const active: Account = { ...account, state: 'active', updatedAt: now, lastSignInAt: options.signIn === true ? now : account.lastSignInAt }
    await outbox.queueEmail(trx, 'welcome', active)
    return active
  }

  /** Validates first, then hashes outside any transaction: a slow hash must not hold the database. */
  async function validatedHash (input: NewAccountInput): Promise<string> {
    const errors = newAccountErrors(input)
    throwIfInvalid(errors)
    return await hasher.hash(input.password)
  }

  /**
   * Add user: active at once, always in Developers, plus any other groups ticked. Without a
   * password (the management API's choice) the account is mailed a single-use link to choose one,
   * as a CSV import's accounts are.
   */
  async function createAccount (input: NewAccountInput | (NameInput & { email: string, password?: undefined }), groupIds: number[], actor: Actor): Promise<Account> {
    if (input.password === undefined) {
      throwIfInvalid(newAccountErrors({ ...input, password: '' }, { passwordRequired: false }))
      await outbox.requireEnabled('account-created')
      return await db.transaction(async (trx) => (await createActiveIn(trx, [{ input, groupIds }], { actor, mail: 'password-link' }))[0])
    }
    const passwordHash = await validatedHash(input)
    return await db.transaction(async (trx) => (await createActiveIn(trx, [{ input, groupIds }], { actor, passwordHash, mail: 'welcome' }))[0])
  }

  // Once there is an administrator there always is one (the last cannot leave), so a yes is kept.
  let administratorKnown = false

  async function hasAdministrator (): Promise<boolean> {
    administratorKnown ||= await administratorExists(db)
    return administratorKnown
  }

  /** First-run setup (and ADMIN_EMAIL): only while no administrator exists, else NotFound. */
  async function createFirstAdministrator (input: NewAccountInput, ip: string | null): Promise<Account> {
    const passwordHash = await validatedHash(input)
    return await db.transaction(async (trx) => {
      if (await administratorExists(trx)) throw new NotFound()
      const adminGroup = await trx('groups').where('system_key', 'administrators').first('id')
      const actor = { id: null, label: input.email, ip }
      const [account] = await createActiveIn(trx, [{ input, groupIds: [adminGroup.id] }], { actor, actorIsAccount: true, passwordHash, mail: null, action: 'administrator.created' })
      return account
    })
  }

  async function getDeveloper (id: number): Promise<AccountDetails> {
    const account = await findAccount(db, id)
    const groups = await db('groups')
      .join('developer_groups', 'developer_groups.group_id', 'groups.id')
      .where('developer_groups.developer_id', id)
      .orderBy('groups.name')
      .select('groups.id', 'groups.name', 'groups.system_key')
    return {
      account,
      groups: groups.map(toGroupSummary),
      isAdmin: groups.some((g) => g.system_key === 'administrators')
    }
  }

  /**
   * Loads an account an administrator is about to block or delete: never their own (they would lock
   * themselves out), never the last active administrator.
   */
  async function loadForRemoval (trx: Knex.Transaction, id: number, actor: Actor): Promise<Account> {
    if (id === actor.id) throw new Refused('You cannot block or delete your own account.')
    const account = await findAccount(trx, id)
    await keepAnActiveAdministrator(trx, account)
    return account
  }

  /** Block: the account's sessions end in the same transaction, so its very next request is signed out. */
  async function blockIn (trx: Knex.Transaction, id: number, actor: Actor): Promise<Changed> {
    const account = await loadForRemoval(trx, id, actor)
    if (account.state === 'pending') throw new Refused('This account has a pending invitation; revoke the invitation instead.')
    if (account.state === 'blocked') return { account, changed: false }
    await updateAccount(trx, { id }, { state: 'blocked' }, isoNow(clock))
    await trx('sessions').where('account_id', id).del()
    await events.record(trx, { actor, action: 'developer.blocked', target: auditTarget(account) })
    return { account: { ...account, state: 'blocked' }, changed: true }
  }

  async function activateIn (trx: Knex.Transaction, id: number, actor: Actor): Promise<Changed> {
    const account = await findAccount(trx, id)
    if (account.state === 'pending') throw new Refused('This account has a pending invitation: it becomes active when the developer accepts it.')
    if (account.state === 'active') return { account, changed: false }
    await updateAccount(trx, { id }, { state: 'active' }, isoNow(clock))
    await events.record(trx, { actor, action: 'developer.activated', target: auditTarget(account) })
    return { account: { ...account, state: 'active' }, changed: true }
  }

  /** Delete: memberships, sessions and tokens go with the account (foreign keys cascade); farewell email. */
  async function deleteIn (trx: Knex.Transaction, id: number, actor: Actor): Promise<Changed> {
    const account = await loadForRemoval(trx, id, actor)
    if (account.state !== 'pending') await outbox.queueEmail(trx, 'farewell', account)
    await removeAccount(trx, { id }, isoNow(clock))
    await events.record(trx, { actor, action: 'developer.deleted', target: auditTarget(account) })
    return { account, changed: true }
  }

  const CHANGES = { block: blockIn, activate: activateIn, delete: deleteIn } as const

  async function changeOne (action: StateAction, id: number, actor: Actor): Promise<Account> {
    return (await db.transaction(async (trx) => await CHANGES[action](trx, id, actor))).account
  }

  const blockAccount = async (id: number, actor: Actor): Promise<Account> => await changeOne('block', id, actor)
  const activateAccount = async (id: number, actor: Actor): Promise<Account> => await changeOne('activate', id, actor)
  const deleteAccount = async (id: number, actor: Actor): Promise<Account> => await changeOne('delete', id, actor)

  /**
   * A bulk action: every account in one transaction, each by the very rules of the single action
   * (the last administrator, one's own account …) and audited alone. A refused account is skipped
   * with the reason (its own savepoint is rolled back), the others go on.
   */
  async function changeMany (action: StateAction, ids: number[], actor: Actor): Promise<BulkOutcome[]> {
    return await db.transaction(async (trx) => {
      const outcomes: BulkOutcome[] = []
      for (const id of ids) {
        try {
          const { account, changed } = await trx.transaction(async (one) => await CHANGES[action](one, id, actor))
          outcomes.push({ id, account, done: changed, reason: changed ? null : `already ${account.state}` })
        } catch (err) {
          if (!(err instanceof DomainError) || err.statusCode >= 500) throw err
          outcomes.push({ id, account: await findAccount(trx, id).catch(() => null), done: false, reason: err.message })
        }
      }
      return outcomes
    })
  }

  return { createActiveIn, activatePendingIn, findMany: async (ids: number[]) => await findAccounts(db, ids), createAccount, createFirstAdministrator, hasAdministrator, getDeveloper, blockAccount, activateAccount, deleteAccount, changeMany }
}

export type Accounts = ReturnType<typeof createAccounts>
