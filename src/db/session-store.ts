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

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * Sessions in the database, so they survive restarts and are shared by several instances.
 * Expiry runs on real time, like the cookie @fastify/session sets, not on the app's injectable clock.
 */
export class KnexSessionStore implements SessionStore {
  constructor (private readonly db: Knex) {}

  set (sid: string, session: Session, callback: Callback): void {
    const expires = session.cookie.expires instanceof Date ? session.cookie.expires : new Date(Date.now() + DAY_MS)
    const row = { sid, account_id: session.accountId ?? null, data: JSON.stringify(session), expires_at: expires.toISOString() }
    this.db('sessions').insert(row).onConflict('sid').merge()
      .then(() => callback(), callback)
  }

  get (sid: string, callback: (err: Error | null, session?: Session | null) => void): void {
    this.db('sessions').where('sid', sid).where('expires_at', '>', new Date().toISOString()).first('data')
      .then((row: { data: string } | undefined) => callback(null, row === undefined ? null : JSON.parse(row.data) as Session), callback)
  }

  destroy (sid: string, callback: Callback): void {
    this.db('sessions').where('sid', sid).del()
      .then(() => callback(), callback)
  }

  /** Removes expired sessions; run now and then, not per request. */
  async prune (): Promise<number> {
    return await this.db('sessions').where('expires_at', '<=', new Date().toISOString()).del()
  }
}
