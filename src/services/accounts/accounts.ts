import type { Knex } from 'knex'
import { recordAudit, type Actor } from '../audit/audit-log'
import { isoNow, type Clock } from '../kernel/clock'
import { DomainError, NotFound, Refused, throwIfInvalid } from '../kernel/errors'
import type { PasswordHasher } from './passwords'
import { newAccountErrors, type NewAccountInput } from './account-rules'
import { deleteAccount as removeAccount, findAccount, insertAccount, updateAccount, type Account } from './account-store'
import { administratorExists, keepAnActiveAdministrator } from './administrators'
import { groupIdsForNewAccount, toGroupSummary, type GroupSummary } from '../groups/group-lookups'
import type { Outbox } from '../mail/outbox'

export interface AccountsDeps {
  db: Knex
  hasher: PasswordHasher
  clock: Clock
  outbox: Outbox
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

export function createAccounts ({ db, hasher, clock, outbox }: AccountsDeps) {
  function auditTarget (account: Pick<Account, 'id' | 'email'>) {
    return { type: 'developer', id: account.id, label: account.email }
  }

  /** Inserts an active account in the given groups; the caller holds the transaction. */
  // A taken email (in any case) is refused by the unique index; insertAccount turns that into a 409.
  async function insertActiveAccount (trx: Knex.Transaction, input: NewAccountInput, passwordHash: string, groupIds: number[]): Promise<Account> {
    const now = isoNow(clock)
    const account = await insertAccount(trx, input, 'active', passwordHash, now)
    await trx('developer_groups').insert(groupIds.map((groupId) => ({ developer_id: account.id, group_id: groupId, created_at: now })))
    return account
  }

  /** Validates first, then hashes outside any transaction: a slow hash must not hold the database. */
  async function validatedHash (input: NewAccountInput): Promise<string> {
    const errors = newAccountErrors(input)
    throwIfInvalid(errors)
    return await hasher.hash(input.password)
  }

  /** Add user: active at once, always in Developers, plus any other groups ticked. */
  async function createAccount (input: NewAccountInput, groupIds: number[], actor: Actor): Promise<Account> {
    const passwordHash = await validatedHash(input)
    return await db.transaction(async (trx) => {
      const account = await insertActiveAccount(trx, input, passwordHash, await groupIdsForNewAccount(trx, groupIds))
      await outbox.queueEmail(trx, 'welcome', account)
      await recordAudit(trx, clock, { actor, action: 'developer.created', target: auditTarget(account), details: { groupIds } })
      return account
    })
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
      const account = await insertActiveAccount(trx, input, passwordHash, await groupIdsForNewAccount(trx, [adminGroup.id]))
      await recordAudit(trx, clock, { actor: { id: account.id, label: account.email, ip }, action: 'administrator.created', target: auditTarget(account) })
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
    await recordAudit(trx, clock, { actor, action: 'developer.blocked', target: auditTarget(account) })
    return { account: { ...account, state: 'blocked' }, changed: true }
  }

  async function activateIn (trx: Knex.Transaction, id: number, actor: Actor): Promise<Changed> {
    const account = await findAccount(trx, id)
    if (account.state === 'pending') throw new Refused('This account has a pending invitation: it becomes active when the developer accepts it.')
    if (account.state === 'active') return { account, changed: false }
    await updateAccount(trx, { id }, { state: 'active' }, isoNow(clock))
    await recordAudit(trx, clock, { actor, action: 'developer.activated', target: auditTarget(account) })
    return { account: { ...account, state: 'active' }, changed: true }
  }

  /** Delete: memberships, sessions and tokens go with the account (foreign keys cascade); farewell email. */
  async function deleteIn (trx: Knex.Transaction, id: number, actor: Actor): Promise<Changed> {
    const account = await loadForRemoval(trx, id, actor)
    if (account.state !== 'pending') await outbox.queueEmail(trx, 'farewell', account)
    await removeAccount(trx, { id }, isoNow(clock))
    await recordAudit(trx, clock, { actor, action: 'developer.deleted', target: auditTarget(account) })
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

  return { createAccount, createFirstAdministrator, hasAdministrator, getDeveloper, blockAccount, activateAccount, deleteAccount, changeMany }
}

export type Accounts = ReturnType<typeof createAccounts>
