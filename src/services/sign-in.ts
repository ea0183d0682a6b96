import type { Knex } from 'knex'
import { isoNow, type Clock } from './clock'
import type { PasswordHasher } from './passwords'
import { ACCOUNT_COLUMNS, isAdministrator, normalizeEmail, toAccount, type Account, type AccountRow } from './account-rows'

export interface SignInDeps {
  db: Knex
  hasher: PasswordHasher
  clock: Clock
  failureLimit: number
  failureWindowMinutes: number
}

/** The account behind a session, reloaded on every request. */
export interface SignedInAccount extends Account {
  isAdmin: boolean
}

export function createSignIn ({ db, hasher, clock, failureLimit, failureWindowMinutes }: SignInDeps) {
  function windowStart (): string {
    return new Date(clock.now().getTime() - failureWindowMinutes * 60_000).toISOString()
  }

  /** Failed sign-ins for this email within the window have reached the limit. */
  async function isLockedOut (email: string): Promise<boolean> {
    const row = await db('sign_in_failures')
      .where('email_normalized', normalizeEmail(email))
      .where('created_at', '>=', windowStart())
      .count({ n: '*' })
      .first()
    return Number(row?.n ?? 0) >= failureLimit
  }

  /**
   * Unknown email, wrong password, pending or blocked account: all answer null after the same
   * work (a hash against a dummy when there is no account), so none can be told apart.
   */
  async function authenticate (email: string, password: string): Promise<SignedInAccount | null> {
    const emailNormalized = normalizeEmail(email)
    const row: AccountRow | undefined = await db('developers').where('email_normalized', emailNormalized).first()
    const matches = await hasher.verify(password, row?.password_hash ?? null)
    const now = isoNow(clock)
    if (row === undefined || !matches || row.state !== 'active') {
      await db.transaction(async (trx) => {
        await trx('sign_in_failures').where('email_normalized', emailNormalized).where('created_at', '<', windowStart()).del()
        await trx('sign_in_failures').insert({ email_normalized: emailNormalized, created_at: now })
      })
      return null
    }
    await db.transaction(async (trx) => {
      await trx('developers').where('id', row.id).update({ last_sign_in_at: now })
      await trx('sign_in_failures').where('email_normalized', emailNormalized).del()
    })
    return { ...toAccount({ ...row, last_sign_in_at: now }), isAdmin: await isAdministrator(db, row.id) }
  }

  return { isLockedOut, authenticate }
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
