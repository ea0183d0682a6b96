import type { Knex } from 'knex'
import { isoNow, type Clock } from '../clock'
import type { PasswordChecks } from './password-checks'
import { ACCOUNT_COLUMNS, isAdministrator, normalizeEmail, toAccount, type Account, type AccountRow } from './account-store'

export interface SignInDeps {
  db: Knex
  clock: Clock
  passwordChecks: PasswordChecks
}

/** The account behind a session, reloaded on every request. */
export interface SignedInAccount extends Account {
  isAdmin: boolean
}

export function createSignIn ({ db, clock, passwordChecks }: SignInDeps) {
  /**
   * Unknown email, wrong password, pending or blocked account: all answer null after the same
   * work (a hash against a dummy when there is no account), so none can be told apart. Past the
   * email's budget of password checks: TooManyRequests, before any hashing.
   */
  async function authenticate (email: string, password: string): Promise<SignedInAccount | null> {
    const row: AccountRow | undefined = await db('developers').where('email_normalized', normalizeEmail(email)).first()
    const matches = await passwordChecks.verify(email, password, row?.password_hash ?? null)
    if (row === undefined || !matches || row.state !== 'active') return null
    const now = isoNow(clock)
    await db('developers').where('id', row.id).update({ last_sign_in_at: now })
    await passwordChecks.succeeded(email)
    return { ...toAccount({ ...row, last_sign_in_at: now }), isAdmin: await isAdministrator(db, row.id) }
  }

  return { authenticate }
}

export type SignIn = ReturnType<typeof createSignIn>

/** Null when the account is gone or no longer active: its session must end. */
export async function findSignedInAccount (db: Knex, id: number): Promise<SignedInAccount | null> {
  const row = await db('developers')
    .where('id', id)
    .first([
      ...ACCOUNT_COLUMNS,
      db.raw(
        'exists (select 1 from developer_groups dg join groups g on g.id = dg.group_id where dg.developer_id = developers.id and g.system_key = ?) as is_admin',
        ['administrators']
      )
    ])
  if (row === undefined || row.state !== 'active') return null
  return { ...toAccount(row), isAdmin: Boolean(row.is_admin) }
}
