import type { Knex } from 'knex'
import { isPostgres } from '../../db/knex'
import { Refused } from '../kernel/errors'
import { ACCOUNT_COLUMNS, displayName, toAccount, type Account } from './account-store'

type Db = Knex | Knex.Transaction

/**
 * On PostgreSQL, locks the Administrators group row for the rest of the transaction, so two
 * changes that could each remove "the other" administrator run one after the other. SQLite
 * transactions already run one at a time (one connection).
 */
export async function lockAdministrators (trx: Knex.Transaction): Promise<void> {
  if (isPostgres(trx)) await trx('groups').where('system_key', 'administrators').forUpdate().first('id')
}

/** The Administrators group's memberships, joined to their accounts: every question about administrators starts here. */
function administrators (q: Db): Knex.QueryBuilder {
  return q('developer_groups')
    .join('groups', 'groups.id', 'developer_groups.group_id')
    .join('developers', 'developers.id', 'developer_groups.developer_id')
    .where('groups.system_key', 'administrators')
}

/** Accounts in the Administrators group that are active, other than `exceptId`. */
export async function countOtherActiveAdministrators (trx: Db, exceptId: number): Promise<number> {
  const row = await administrators(trx).where('developers.state', 'active').whereNot('developers.id', exceptId).count({ n: '*' }).first()
  return Number(row?.n ?? 0)
}

/** The active administrators (those mailed when a developer asks for a product that needs approval). */
export async function activeAdministrators (q: Db): Promise<Account[]> {
  const rows = await administrators(q).where('developers.state', 'active').orderBy('developers.id').select(ACCOUNT_COLUMNS.map((c) => `developers.${c}`))
  return rows.map(toAccount)
}

export async function isAdministrator (trx: Db, accountId: number): Promise<boolean> {
  return await administrators(trx).where('developers.id', accountId).first('developers.id') !== undefined
}

/** Whether any account is in the Administrators group (first-run setup ends once one is). */
export async function administratorExists (trx: Db): Promise<boolean> {
  return await administrators(trx).first('developers.id') !== undefined
}

/** The one message of the one rule below. */
export function lastAdministratorMessage (account: Pick<Account, 'firstName' | 'lastName'>): string {
  return `${displayName(account)} is the last active administrator: make another account an administrator first.`
}

/**
 * The portal never loses its last active administrator: blocking, deleting, closing one's own
 * account and leaving Administrators all call this (after the Administrators lock, so two such
 * changes cannot each remove "the other" one) before they change anything.
 */
export async function keepAnActiveAdministrator (trx: Knex.Transaction, account: Account): Promise<void> {
  await lockAdministrators(trx)
  if (account.state === 'active' && await isAdministrator(trx, account.id) && await countOtherActiveAdministrators(trx, account.id) === 0) {
    throw new Refused(lastAdministratorMessage(account))
  }
}
