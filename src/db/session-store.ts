import type { Session } from 'fastify'
import type { SessionStore } from '@fastify/session'
import type { Knex } from 'knex'
import { signedInColumns, toSignedIn, type SignedInRow } from '../services/accounts/account-store'
import type { SignedInAccount } from '../services/accounts/sign-in'

/** One bulk action's outcome, account by account. */
export interface BulkReport {
  title: string
  items: Array<{ id: number, name: string, email: string, done: boolean, reason: string | null }>
}

declare module 'fastify' {
  interface Session {
    /** The signed-in account; everything else about it is reloaded from the database per request. */
    accountId?: number
    /** A one-time message for the next page. */
    flash?: string
    /** What a bulk action on the Developers list did, for the page it redirects to (shown once). */
    bulkResult?: BulkReport
    /** @fastify/csrf-protection's secret. */
    _csrf?: string
  }
}

type Callback = (err?: Error) => void

/**
 * Runs the store's callback once the query settles, outside the query's promise chain: whatever
 * the callback throws (it runs the rest of the request, headers included) is reported, never left
 * to become an unhandled rejection that would end the process.
 */
function settle<T> (work: Promise<T>, callback: (err: Error | null, value?: T) => void, onCallbackError: (err: unknown) => void): void {
  work.then((value) => ({ err: null, value }), (err: Error) => ({ err, value: undefined }))
    .then(({ err, value }) => {
      try {
        callback(err, value)
      } catch (thrown) {
        onCallbackError(thrown)
      }
    }).catch(onCallbackError)
}

const DAY_MS = 24 * 60 * 60 * 1000

// Stand-ins for the values of each read, in the query compiled once.
const SID = '\u0000sid'
const NOW = '\u0000now'

type SessionRow = { data: string, account_id: number | null } & (SignedInRow | { [K in keyof SignedInRow]: null })

/**
 * Sessions in the database, so they survive restarts and are shared by several instances.
 * Expiry runs on real time, like the cookie @fastify/session sets, not on the app's injectable clock.
 */
export class KnexSessionStore implements SessionStore {
  /** The session with its account, in one query (compiled once). */
  private readonly read: { sql: string, bindings: readonly unknown[] }
  /** The signed-in account read with each session, until the auth hook takes it (by session id). */
  private readonly accounts = new Map<string, SignedInAccount | null>()

  /** `readDb`: where sessions are read (a read-only pool on SQLite); `db` writes them. */
  constructor (private readonly db: Knex, private readonly readDb: Knex, private readonly onCallbackError: (err: unknown) => void) {
    const { sql, bindings } = readDb('sessions').leftJoin('developers', 'developers.id', 'sessions.account_id')
      .where('sessions.sid', SID).where('sessions.expires_at', '>', NOW)
      .first(['sessions.data', 'sessions.account_id', ...signedInColumns(readDb)]).toSQL()
    this.read = { sql, bindings }
  }

  /**
   * The account read with this session a moment ago (null: gone or no longer active), once; undefined
   * when there is none to take (then the caller reads it itself).
   */
  takeAccount (sid: string): SignedInAccount | null | undefined {
    const account = this.accounts.get(sid)
    this.accounts.delete(sid)
    return account
  }

  set (sid: string, session: Session, callback: Callback): void {
    const expires = session.cookie.expires instanceof Date ? session.cookie.expires : new Date(Date.now() + DAY_MS)
    const row = { sid, account_id: session.accountId ?? null, data: JSON.stringify(session), expires_at: expires.toISOString() }
    settle(this.db('sessions').insert(row).onConflict('sid').merge(), (err) => callback(err ?? undefined), this.onCallbackError)
  }

  get (sid: string, callback: (err: Error | null, session?: Session | null) => void): void {
    const now = new Date().toISOString()
    const bindings = this.read.bindings.map((b) => b === SID ? sid : b === NOW ? now : b) as Knex.RawBinding[]
    const read = this.readDb.raw(this.read.sql, bindings)
      .then((result: SessionRow[] | { rows: SessionRow[] }) => {
        const row = Array.isArray(result) ? result[0] : result.rows[0]
        if (row === undefined) return null
        if (row.account_id !== null) {
          // Entries live from here to the auth hook of the same request; a request that ends in
          // between (a dropped connection) leaves one behind, so the map is kept small.
          if (this.accounts.size >= 1000) this.accounts.clear()
          this.accounts.set(sid, toSignedIn(row.id === null ? undefined : row))
        }
        return JSON.parse(row.data) as Session
      })
    settle(read, (err, session) => callback(err, session), this.onCallbackError)
  }

  destroy (sid: string, callback: Callback): void {
    settle(this.db('sessions').where('sid', sid).del(), (err) => callback(err ?? undefined), this.onCallbackError)
  }

  /** Removes expired sessions; run now and then, not per request. */
  async prune (): Promise<number> {
    return await this.db('sessions').where('expires_at', '<=', new Date().toISOString()).del()
  }
}
