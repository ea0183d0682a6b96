import { createHash } from 'node:crypto'
import type { Knex } from 'knex'
import { isoNow, type Clock } from './clock'

/** What a limit counts; each scope has its own counters. */
export type AttemptScope = 'password-check' | 'email-sent' | 'mfa-code'

export interface Reservation {
  allowed: boolean
  /** Seconds until the window (and so the count) starts again. */
  retryAfterSeconds: number
}

function counterKey (scope: AttemptScope, subject: string): string {
  return createHash('sha256').update(`${scope}\n${subject}`).digest('hex')
}

/**
 * Fixed-window counters in the database, so a limit holds across instances and restarts. An
 * attempt is reserved (counted) before the work it allows, in one atomic upsert, so no number of
 * simultaneous requests can do more than `limit` pieces of work in a window.
 */
export function createAttemptLimits ({ db, clock }: { db: Knex, clock: Clock }) {
  async function reserve (scope: AttemptScope, subject: string, limit: number, windowMs: number): Promise<Reservation> {
    const now = isoNow(clock)
    const windowEnds = new Date(clock.now().getTime() + windowMs).toISOString()
    const rows: Array<{ attempts: number, window_ends_at: string }> = await db('attempt_counters')
      .insert({ counter_key: counterKey(scope, subject), attempts: 1, window_ends_at: windowEnds })
      .onConflict('counter_key')
      .merge({
        // Both expressions see the row as it was: an ended window starts again at 1.
        attempts: db.raw('case when attempt_counters.window_ends_at <= ? then 1 else attempt_counters.attempts + 1 end', [now]),
        window_ends_at: db.raw('case when attempt_counters.window_ends_at <= ? then ? else attempt_counters.window_ends_at end', [now, windowEnds])
      })
      .returning(['attempts', 'window_ends_at'])
    const { attempts, window_ends_at: endsAt } = rows[0]
    return {
      allowed: Number(attempts) <= limit,
      retryAfterSeconds: Math.max(1, Math.ceil((new Date(endsAt).getTime() - clock.now().getTime()) / 1000))
    }
  }

  /** Starts the count again (a successful sign-in clears the failures before it). */
  async function clear (scope: AttemptScope, subject: string, trx: Knex | Knex.Transaction = db): Promise<void> {
    await trx('attempt_counters').where('counter_key', counterKey(scope, subject)).del()
  }

  /** Drops counters whose window has ended; run now and then. */
  async function prune (): Promise<number> {
    return await db('attempt_counters').where('window_ends_at', '<=', isoNow(clock)).del()
  }

  return { reserve, clear, prune }
}

export type AttemptLimits = ReturnType<typeof createAttemptLimits>
