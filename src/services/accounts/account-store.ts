import type { Knex } from 'knex'
import { isUniqueViolation } from '../../db/knex'
import { Conflict, NotFound } from '../errors'

export const TAKEN_EMAIL = 'An account with this email address already exists.'

export type AccountState = 'pending' | 'active' | 'blocked'
export const ACCOUNT_STATES: readonly AccountState[] = ['pending', 'active', 'blocked']

export interface Account {
  id: number
  email: string
  firstName: string
  lastName: string
  state: AccountState
  createdAt: string
  updatedAt: string
  lastSignInAt: string | null
}

export interface AccountRow {
  id: number
  email: string
  email_normalized: string
  first_name: string
  last_name: string
  name_normalized: string
  password_hash: string | null
  state: AccountState
  created_at: string
  updated_at: string
  last_sign_in_at: string | null
}

export const ACCOUNT_COLUMNS = ['id', 'email', 'first_name', 'last_name', 'state', 'created_at', 'updated_at', 'last_sign_in_at'] as const

export function toAccount (row: Pick<AccountRow, typeof ACCOUNT_COLUMNS[number]>): Account {
  return {
    id: row.id,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastSignInAt: row.last_sign_in_at
  }
}

export function normalizeEmail (email: string): string {
  return email.trim().toLowerCase()
}

export function normalizeName (firstName: string, lastName: string): string {
  return `${firstName.trim()} ${lastName.trim()}`.toLowerCase()
}

export function displayName (account: Pick<Account, 'firstName' | 'lastName'>): string {
  return `${account.firstName} ${account.lastName}`.trim()
}

/** Accounts in the Administrators group that are active, other than `exceptId`. */
export async function countOtherActiveAdministrators (trx: Knex | Knex.Transaction, exceptId: number): Promise<number> {
  const row = await trx('developer_groups')
    .join('groups', 'groups.id', 'developer_groups.group_id')
    .join('developers', 'developers.id', 'developer_groups.developer_id')
    .where('groups.system_key', 'administrators')
    .where('developers.state', 'active')
    .whereNot('developers.id', exceptId)
    .count({ n: '*' })
    .first()
  return Number(row?.n ?? 0)
}

export async function isAdministrator (trx: Knex | Knex.Transaction, accountId: number): Promise<boolean> {
  const row = await trx('developer_groups')
    .join('groups', 'groups.id', 'developer_groups.group_id')
    .where('groups.system_key', 'administrators')
    .where('developer_groups.developer_id', accountId)
    .first('developer_groups.developer_id')
  return row !== undefined
}

/** Whether any account is in the Administrators group (first-run setup ends once one is). */
export async function administratorExists (trx: Knex | Knex.Transaction): Promise<boolean> {
  const row = await trx('developer_groups')
    .join('groups', 'groups.id', 'developer_groups.group_id')
    .where('groups.system_key', 'administrators')
    .first('developer_groups.developer_id')
  return row !== undefined
}

export interface AccountRecord {
  firstName: string
  lastName: string
  email: string
}

/** Inserts an account row (names and email trimmed, normalized columns filled) and returns it. */
export async function insertAccount (trx: Knex.Transaction, input: AccountRecord, state: AccountState, passwordHash: string | null, now: string): Promise<Account> {
  const [row] = await trx('developers').insert({
    email: input.email.trim(),
    email_normalized: normalizeEmail(input.email),
    first_name: input.firstName.trim(),
    last_name: input.lastName.trim(),
    name_normalized: normalizeName(input.firstName, input.lastName),
    password_hash: passwordHash,
    state,
    created_at: now,
    updated_at: now
  }).returning(ACCOUNT_COLUMNS).catch((err: unknown) => {
    // Checked before, but a concurrent writer on PostgreSQL can still win the race.
    throw isUniqueViolation(err) ? new Conflict('email', TAKEN_EMAIL) : err
  })
  return toAccount(row as AccountRow)
}

/** The account with this id, or a 404. */
export async function findAccount (trx: Knex | Knex.Transaction, id: number): Promise<Account> {
  const row = await trx('developers').where('id', id).first(ACCOUNT_COLUMNS)
  if (row === undefined) throw new NotFound('There is no developer with this id.')
  return toAccount(row)
}
