import type { Knex } from 'knex'
import { isPostgres, isUniqueViolation } from '../../db/knex'
import { Conflict, NotFound } from '../kernel/errors'
import { cancelSubscriptionsOf } from '../subscriptions/subscription-states'
import { canonicalText, identifierKey } from '../kernel/text-rules'

/**
 * The account store: the one path to the `developers` table. Every function takes the database or
 * the caller's transaction first; callers pass domain fields (firstName, passwordHash …), never
 * column names.
 */
type Db = Knex | Knex.Transaction

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

/** What emails are compared by (unique, case-insensitive, look-alikes the same): see identifierKey. */
export function normalizeEmail (email: string): string {
  return identifierKey(email)
}

export function normalizeName (firstName: string, lastName: string): string {
  return `${canonicalText(firstName)} ${canonicalText(lastName)}`.toLowerCase()
}

export function displayName (account: Pick<Account, 'firstName' | 'lastName'>): string {
  return `${account.firstName} ${account.lastName}`.trim()
}

/** An account with what only the services may see: its password hash. */
export interface StoredAccount extends Account {
  passwordHash: string | null
}

/** What to find an account by: its id or its email (any case), optionally only in one state. */
export type AccountKey = ({ id: number } | { email: string }) & { state?: AccountState }

/** What can change on an account; names change together. */
export interface AccountChanges {
  name?: { firstName: string, lastName: string }
  email?: string
  passwordHash?: string | null
  state?: AccountState
}

function whereKey (q: Db, key: AccountKey): Knex.QueryBuilder {
  const query = 'id' in key ? q('developers').where('id', key.id) : q('developers').where('email_normalized', normalizeEmail(key.email))
  return key.state === undefined ? query : query.where('state', key.state)
}

export async function findStoredAccount (q: Db, key: AccountKey): Promise<StoredAccount | undefined> {
  const row: AccountRow | undefined = await whereKey(q, key).first()
  return row === undefined ? undefined : { ...toAccount(row), passwordHash: row.password_hash }
}

/** Applies `changes` (with `updatedAt` = now); returns whether the account, in its key's state, was there. */
export async function updateAccount (q: Db, key: AccountKey, changes: AccountChanges, now: string): Promise<boolean> {
  const columns: Record<string, string | null> = { updated_at: now }
  if (changes.name !== undefined) {
    columns.first_name = canonicalText(changes.name.firstName)
    columns.last_name = canonicalText(changes.name.lastName)
    columns.name_normalized = normalizeName(changes.name.firstName, changes.name.lastName)
  }
  if (changes.email !== undefined) {
    columns.email = canonicalText(changes.email)
    columns.email_normalized = normalizeEmail(changes.email)
  }
  if (changes.passwordHash !== undefined) columns.password_hash = changes.passwordHash
  if (changes.state !== undefined) columns.state = changes.state
  const updated = await whereKey(q, key).update(columns).catch((err: unknown) => {
    throw isUniqueViolation(err) ? new Conflict('email', TAKEN_EMAIL) : err
  })
  return updated > 0
}

/** A successful sign-in: when, without counting as a change to the account. */
export async function recordSignIn (q: Db, id: number, at: string): Promise<void> {
  await q('developers').where('id', id).update({ last_sign_in_at: at })
}

/**
 * Removes the account; memberships, sessions and links go with it (foreign keys cascade). Its live
 * subscriptions are cancelled first and kept, without an owner, for the record: call it in the
 * transaction of the change.
 */
export async function deleteAccount (q: Db, key: AccountKey, now: string): Promise<boolean> {
  await cancelSubscriptionsOf(q, whereKey(q, key).select('id'), now)
  return (await whereKey(q, key).del()) > 0
}

export interface AccountRecord {
  firstName: string
  lastName: string
  email: string
}

/** Inserts an account row (names and email trimmed and in NFC, normalized columns filled) and returns it. */
export async function insertAccount (trx: Knex.Transaction, input: AccountRecord, state: AccountState, passwordHash: string | null, now: string): Promise<Account> {
  return (await insertAccounts(trx, [input], state, passwordHash, now))[0]
}

/** Inserts many accounts in few statements (500 rows each), in the order given. */
export async function insertAccounts (trx: Knex.Transaction, inputs: AccountRecord[], state: AccountState, passwordHash: string | null, now: string): Promise<Account[]> {
  const accounts: Account[] = []
  for (let i = 0; i < inputs.length; i += INSERT_BATCH) {
    const rows = await trx('developers').insert(inputs.slice(i, i + INSERT_BATCH).map((input) => ({
      email: canonicalText(input.email),
      email_normalized: normalizeEmail(input.email),
      first_name: canonicalText(input.firstName),
      last_name: canonicalText(input.lastName),
      name_normalized: normalizeName(input.firstName, input.lastName),
      password_hash: passwordHash,
      state,
      created_at: now,
      updated_at: now
    }))).returning(ACCOUNT_COLUMNS).catch((err: unknown) => {
      // Checked before, but a concurrent writer on PostgreSQL can still win the race.
      throw isUniqueViolation(err) ? new Conflict('email', TAKEN_EMAIL) : err
    }) as AccountRow[]
    // Both engines return the rows of one multi-row INSERT in the order of its VALUES; by id to be sure.
    accounts.push(...rows.sort((a, b) => a.id - b.id).map(toAccount))
  }
  return accounts
}

/**
 * The state of each account these normalized emails name (a map by normalized email), for many
 * at once. On PostgreSQL as a join with the list: an IN list of 500 addresses was answered through
 * the trigram search index (it supports equality too), 3 s a query once its pending list grew
 * during an import; a join reaches the unique index, or hashes the table when it is small.
 */
export async function accountStatesByEmail (q: Db, normalizedEmails: string[]): Promise<Map<string, AccountState>> {
  const rows: Array<{ email_normalized: string, state: AccountState }> = normalizedEmails.length === 0
    ? []
    : isPostgres(q)
      ? (await q.raw('select d.email_normalized, d.state from unnest(?::text[]) as wanted(email) join developers d on d.email_normalized = wanted.email', [normalizedEmails])).rows
      : await q('developers').whereIn('email_normalized', normalizedEmails).select('email_normalized', 'state')
  return new Map(rows.map((row) => [row.email_normalized, row.state]))
}

/** Rows written per INSERT statement by the batch writers (well under either engine's parameter limit). */
export const INSERT_BATCH = 500

/** The accounts with these ids that exist, by name (a bulk action's confirmation). */
export async function findAccounts (q: Db, ids: number[]): Promise<Account[]> {
  const rows = await q('developers').whereIn('id', ids).orderBy('name_normalized').orderBy('id').select(ACCOUNT_COLUMNS)
  return rows.map(toAccount)
}

/** The account with this id (in the key's state, if given), or a 404 with `message`. */
export async function findAccount (trx: Db, id: number, state?: AccountState, message = 'There is no developer with this id.'): Promise<Account> {
  const row = await whereKey(trx, { id, state }).first(ACCOUNT_COLUMNS)
  if (row === undefined) throw new NotFound(message, 'account')
  return toAccount(row)
}

/** The columns of a signed-in account: the account's and whether it is an administrator. */
function signedInColumns (q: Knex.QueryBuilder): Array<string | Knex.Raw> {
  return [
    ...ACCOUNT_COLUMNS.map((c) => `developers.${c}`),
    q.client.raw(
      'exists (select 1 from developer_groups dg join groups g on g.id = dg.group_id where dg.developer_id = developers.id and g.system_key = ?) as is_admin',
      ['administrators']
    )
  ]
}

type SignedInRow = Pick<AccountRow, typeof ACCOUNT_COLUMNS[number]> & { is_admin: number | boolean }

/** Null when the account is gone (no row) or no longer active: its session must end. */
function toSignedIn (row: SignedInRow | undefined): (Account & { isAdmin: boolean }) | null {
  if (row === undefined || row.id === null || row.state !== 'active') return null
  return { ...toAccount(row), isAdmin: Boolean(row.is_admin) }
}

/**
 * How another table's query reads its account with it, in the same query (a session and its
 * account, one query per request): the join and the signed-in columns added, the row made into the
 * account, null when it is gone or no longer active.
 */
export const signedInWith = {
  attach (query: Knex.QueryBuilder, accountIdColumn: string): Knex.QueryBuilder {
    return query.leftJoin('developers', 'developers.id', accountIdColumn).select(signedInColumns(query))
  },
  fromRow (row: Record<string, unknown>): (Account & { isAdmin: boolean }) | null {
    return toSignedIn(row.id === null ? undefined : row as unknown as SignedInRow)
  }
}

/** Null when the account is gone or no longer active: its session must end. */
export async function findActiveAccountWithRole (q: Db, id: number): Promise<(Account & { isAdmin: boolean }) | null> {
  const query = q('developers').where('id', id)
  return toSignedIn(await query.first(signedInColumns(query)) as SignedInRow | undefined)
}
