import type { Knex } from 'knex'
import { isoNow, type Clock } from '../kernel/clock'
import type { PasswordChecks } from './password-checks'
import { findActiveAccountWithRole, findStoredAccount, recordSignIn, signedInWith, type Account } from './account-store'
import { isAdministrator } from './administrators'

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
   * email's budget of password checks: TooManyRequests, before any hashing. `adminsOnly`: a
   * developer's right password answers null too.
   */
  async function authenticate (email: string, password: string, { adminsOnly = false } = {}): Promise<SignedInAccount | null> {
    const stored = await findStoredAccount(db, { email })
    const matches = await passwordChecks.verify(email, password, stored?.passwordHash ?? null)
    if (stored === undefined || !matches || stored.state !== 'active') return null
    // Password sign-in off for developers: only an administrator's password still works (their way back in).
    const isAdmin = await isAdministrator(db, stored.id)
    if (adminsOnly && !isAdmin) return null
    const now = isoNow(clock)
    await recordSignIn(db, stored.id, now)
    await passwordChecks.succeeded(email)
    const { passwordHash: _, ...account } = stored
    return { ...account, lastSignInAt: now, isAdmin }
  }

  /** The account behind a session, reloaded on every request; null once it is gone or not active. */
  async function findSignedInAccount (id: number): Promise<SignedInAccount | null> {
    return await findActiveAccountWithRole(db, id)
  }

  // How the session store reads a session's account in the session's own query.
  const sessionAccounts: { attach: typeof signedInWith.attach, fromRow: (row: Record<string, unknown>) => SignedInAccount | null } = signedInWith

  return { authenticate, findSignedInAccount, sessionAccounts }
}

export type SignIn = ReturnType<typeof createSignIn>
