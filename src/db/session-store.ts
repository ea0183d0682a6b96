import type { Session } from 'fastify'
import type { SessionStore } from '@fastify/session'
import type { Knex } from 'knex'

declare module 'fastify' {
  interface Session {
    /** The signed-in account; everything else about it is reloaded from the database per request. */
    accountId?: number
    /** A one-time message for the next page. */
    flash?: string
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

/**
 * Sessions in the database, so they survive restarts and are shared by several instances.
 * Expiry runs on real time, like the cookie @fastify/session sets, not on the app's injectable clock.
 */
export class KnexSessionStore implements SessionStore {
  constructor (private readonly db: Knex, private readonly onCallbackError: (err: unknown) => void) {}

  set (sid: string, session: Session, callback: Callback): void {
    const expires = session.cookie.expires instanceof Date ? session.cookie.expires : new Date(Date.now() + DAY_MS)
    const row = { sid, account_id: session.accountId ?? null, data: JSON.stringify(session), expires_at: expires.toISOString() }
    settle(this.db('sessions').insert(row).onConflict('sid').merge(), (err) => callback(err ?? undefined), this.onCallbackError)
  }

  get (sid: string, callback: (err: Error | null, session?: Session | null) => void): void {
    const read = this.db('sessions').where('sid', sid).where('expires_at', '>', new Date().toISOString()).first('data')
      .then((row: { data: string } | undefined) => row === undefined ? null : JSON.parse(row.data) as Session)
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
