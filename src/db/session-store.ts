import type { Session } from 'fastify'
import '../http/session-data'
import type { SessionStore } from '@fastify/session'
import type { Knex } from 'knex'

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

/**
 * How a session's account is read with it, from the accounts' side: the join and columns it adds
 * to the session's query, and the account it makes of the row (null: gone or no longer active).
 * The store knows sessions only; what an account is stays with the accounts.
 */
export interface SessionAccounts<A> {
  attach: (query: Knex.QueryBuilder, accountIdColumn: string) => Knex.QueryBuilder
  fromRow: (row: Record<string, unknown>) => A | null
}

type SessionRow = { data: string, account_id: number | null } & Record<string, unknown>

/**
 * Sessions in the database, so they survive restarts and are shared by several instances.
 * Expiry runs on real time, like the cookie @fastify/session sets, not on the app's injectable clock.
 */
export class KnexSessionStore<A> implements SessionStore {
  /** The session with its account, in one query (compiled once). */
  private readonly read: { sql: string, bindings: readonly unknown[] }
  /** The signed-in account read with each session, until the auth hook takes it (by session id). */
  private readonly accounts = new Map<string, A | null>()

  /** `readDb`: where sessions are read (a read-only pool on SQLite); `db` writes them. */
  constructor (private readonly db: Knex, private readonly readDb: Knex, private readonly sessionAccounts: SessionAccounts<A>, private readonly onCallbackError: (err: unknown) => void) {
    const query = readDb('sessions').where('sessions.sid', SID).where('sessions.expires_at', '>', NOW).select('sessions.data', 'sessions.account_id')
    const { sql, bindings } = sessionAccounts.attach(query, 'sessions.account_id').first().toSQL()
    this.read = { sql, bindings }
  }

  /**
   * The account read with this session a moment ago (null: gone or no longer active), once; undefined
   * when there is none to take (then the caller reads it itself).
   */
  takeAccount (sid: string): A | null | undefined {
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
          this.accounts.set(sid, this.sessionAccounts.fromRow(row))
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
