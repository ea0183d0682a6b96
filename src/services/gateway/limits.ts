import type { Knex } from 'knex'
import type { QuotaPeriod } from '../catalog/products'

/** The start of the quota period holding `now` (UTC): the day, the week from Monday, the month. */
export function periodStart (period: QuotaPeriod, now: number): number {
  const d = new Date(now)
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
  if (period === 'day') return day
  if (period === 'week') return day - ((d.getUTCDay() + 6) % 7) * 86_400_000
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

/** When the period starting at `start` ends (the next one starts). */
export function periodEnd (period: QuotaPeriod, start: number): number {
  if (period === 'day') return start + 86_400_000
  if (period === 'week') return start + 7 * 86_400_000
  const d = new Date(start)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
}

/** HH:MM:SS (hours may pass 24, as a week or a month is long). */
export function hhmmss (ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000))
  const pad = (n: number): string => String(n).padStart(2, '0')
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}`
}

/**
 * Concurrent calls per caller (a subscription, or the client address of a call without a key), in
 * this instance's memory: one caller cannot hold every connection to a backend, however slowly it
 * sends or reads.
 */
export function createConcurrencyLimiter (max: number) {
  const active = new Map<number | string, number>()

  /** Takes a slot for one call; false when the caller already has `max` calls running. */
  function take (caller: number | string): boolean {
    const running = active.get(caller) ?? 0
    if (running >= max) return false
    active.set(caller, running + 1)
    return true
  }

  /** Gives back the slot of a call that has ended. */
  function release (caller: number | string): void {
    const running = active.get(caller) ?? 0
    if (running <= 1) active.delete(caller)
    else active.set(caller, running - 1)
  }

  return { take, release }
}

interface QuotaCounter {
  subscriptionId: number
  period: QuotaPeriod
  start: number
  /** The quota's calls, as of the last call. */
  limit: number
  /** Calls this instance may still let through, from what it reserved in the database. */
  allowance: number
  /** Calls this instance let through and has not added to `calls` yet. */
  unwritten: number
  /** Calls asked for since the last flush: how much to reserve next, and whether the counter is idle. */
  recent: number
  /** What the last reservation got: the next asks for twice as much, so a busy counter rarely asks. */
  lastGrant: number
  /** Calls waiting while a reservation is under way (each gets 0, or how long until the quota renews). */
  waiting: Array<{ resolve: (wait: number) => void, reject: (err: unknown) => void }>
  reserving: boolean
  /** A write giving reserved calls back, under way: a reservation waits for it, or it would find them still taken. */
  releasing: Promise<unknown> | null
  /** The database had nothing left to reserve: calls are refused without asking again until then. */
  exhaustedUntil: number
}

export interface QuotaCrossing { subscriptionId: number, calls: number, periodStart: string, resetsAt: number }

// At most this many calls are reserved at once, and at most a quarter of what is left, so an
// instance that dies holding reservations strands little of the quota (it holds at most about a
// chunk and a half: the next chunk is asked for when half of the last one is used).
const MAX_CHUNK = 1000
const MIN_CHUNK = 10
// Once the quota is used up, how long refusals are answered from memory before the database is asked again.
const EXHAUSTED_RECHECK_MS = 1000

/**
 * Quotas, counted durably in `quota_usage`. An instance reserves calls in the database before it
 * lets them through: one conditional UPDATE claims a chunk (at most what the call rate needs, a
 * quarter of what is left, and never past the quota), and calls are then let through from memory
 * until the chunk is used. So the quota is exact on one instance and across any number of them:
 * calls let through never exceed it. Every flush (≤ 1 s) adds the calls made to `calls` (what
 * pages show and the 90% warning reads) and gives back the unused part of an idle counter's chunk.
 * An instance killed without closing loses its unwritten calls (at most one flush interval's) and
 * strands its unused reservations (at most half of what was left, 1,500 calls at most) until the
 * period ends.
 */
export function createQuotaCounter (db: Knex, onWarn: (crossing: QuotaCrossing) => Promise<void>, clock: () => number = Date.now) {
  const counters = new Map<number, QuotaCounter>()
  // Counters of a period that ended with calls not yet written: written at the next flush.
  let retired: QuotaCounter[] = []

  const iso = (ms: number): string => new Date(ms).toISOString()

  /** Claims up to `want` calls of the quota for this instance; answers how many it got. */
  async function reserve (counter: QuotaCounter, want: number): Promise<number> {
    const key = { subscription_id: counter.subscriptionId, period_start: iso(counter.start) }
    await db('quota_usage').insert({ ...key, calls: 0, reserved: 0, last_grant: 0, warned: false }).onConflict(['subscription_id', 'period_start']).ignore()
    // Both SET expressions read the row as it was: last_grant is what this UPDATE added to reserved.
    const limit = counter.limit
    const grant = db.raw('case when reserved >= ? then 0 when ? <= (? - reserved + 3) / 4 then ? else (? - reserved + 3) / 4 end', [limit, want, limit, want, limit])
    const [row] = await db('quota_usage').where(key)
      .update({ last_grant: grant, reserved: db.raw('reserved + ?', [grant]) })
      .returning(['last_grant'])
    return Number(row?.last_grant ?? 0)
  }

  /**
   * Reserves more of the quota: for the calls waiting, until each is let through or the quota is
   * used up, or ahead of need when the allowance runs low, so a steady caller never waits for the
   * database (or for another process's write lock on a SQLite file).
   */
  async function refill (counter: QuotaCounter): Promise<void> {
    counter.reserving = true
    try {
      do {
        // Calls given back by a flush under way are not free in the database until it is written.
        while (counter.releasing !== null) await counter.releasing.catch(() => {})
        const granted = await reserve(counter, Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, counter.waiting.length, counter.recent, 2 * counter.lastGrant)))
        counter.lastGrant = granted
        counter.allowance += granted
        while (counter.allowance > 0 && counter.waiting.length > 0) {
          counter.allowance--
          counter.unwritten++
          counter.waiting.shift()?.resolve(0)
        }
        if (granted === 0) {
          const now = clock()
          counter.exhaustedUntil = now + EXHAUSTED_RECHECK_MS
          const wait = Math.max(1, periodEnd(counter.period, counter.start) - now)
          for (const waiter of counter.waiting.splice(0)) waiter.resolve(wait)
        }
      } while (counter.waiting.length > 0)
    } catch (err) {
      for (const waiter of counter.waiting.splice(0)) waiter.reject(err)
    } finally {
      counter.reserving = false
    }
  }

  /**
   * Takes one call from the quota. Answers the milliseconds until it renews when it is used up,
   * 0 when the call may go; a promise only when this instance must reserve more first.
   */
  function take (subscriptionId: number, quota: { calls: number, period: QuotaPeriod }, now: number): number | Promise<number> {
    const start = periodStart(quota.period, now)
    let counter = counters.get(subscriptionId)
    if (counter === undefined || counter.start !== start || counter.period !== quota.period) {
      if (counter !== undefined && counter.unwritten > 0) retired.push(counter)
      counter = { subscriptionId, period: quota.period, start, limit: quota.calls, allowance: 0, unwritten: 0, recent: 0, lastGrant: 0, waiting: [], reserving: false, releasing: null, exhaustedUntil: 0 }
      counters.set(subscriptionId, counter)
    }
    counter.limit = quota.calls
    counter.recent++
    if (counter.waiting.length === 0) {
      if (counter.allowance > 0) {
        counter.allowance--
        counter.unwritten++
        // Half the last chunk used: the next is asked for now, while calls still go.
        if (counter.allowance <= counter.lastGrant / 2 && !counter.reserving && now >= counter.exhaustedUntil) void refill(counter)
        return 0
      }
      if (now < counter.exhaustedUntil) return Math.max(1, periodEnd(counter.period, counter.start) - now)
    }
    const c = counter
    return new Promise<number>((resolve, reject) => {
      c.waiting.push({ resolve, reject })
      if (!c.reserving) void refill(c)
    })
  }

  /** Adds a counter's unwritten calls to the database and gives back `release` reserved calls. */
  async function write (counter: QuotaCounter, release: number): Promise<void> {
    const { subscriptionId } = counter
    const add = counter.unwritten
    const periodStart = iso(counter.start)
    counter.allowance -= release
    const update = db('quota_usage').where({ subscription_id: subscriptionId, period_start: periodStart })
      .update({ calls: db.raw('calls + ?', [add]), reserved: db.raw('reserved - ?', [release]) })
      .returning(['calls', 'warned']).then((rows) => rows)
    if (release > 0) counter.releasing = update
    try {
      const [row] = await update
      if (counter.releasing === update) counter.releasing = null
      counter.unwritten -= add
      if (row === undefined || add === 0) return
      const total = Number(row.calls)
      const quota = counter.limit
      if (!(row.warned === true || row.warned === 1) && total >= Math.ceil(quota * 0.9)) {
        const claimed = await db('quota_usage').where({ subscription_id: subscriptionId, period_start: periodStart, warned: false }).update({ warned: true })
        if (claimed > 0) await onWarn({ subscriptionId, calls: quota, periodStart, resetsAt: periodEnd(counter.period, counter.start) })
      }
    } catch (err) {
      // Not written: the calls stay unwritten, the reservation stays this instance's.
      if (counter.releasing === update) counter.releasing = null
      counter.allowance += release
      if (counters.get(subscriptionId) !== counter && !retired.includes(counter)) retired.push(counter)
      throw err
    }
  }

  /**
   * Writes every subscription's unwritten calls; a counter not called since the last flush gives
   * back its unused reservation and is forgotten. A total that passes 90% of its quota for the
   * first time in the period is handed to onWarn (once, across instances). `releaseAll` (on
   * close) gives back every counter's reservation.
   */
  async function flush (releaseAll = false): Promise<void> {
    const ended = retired
    retired = []
    let failure: unknown = null
    for (const counter of [...ended, ...counters.values()]) {
      const current = counters.get(counter.subscriptionId) === counter
      const idle = counter.recent === 0 && !counter.reserving && counter.waiting.length === 0
      counter.recent = 0
      const release = current && (idle || releaseAll) && !counter.reserving ? counter.allowance : 0
      if (counter.unwritten > 0 || release > 0) {
        try {
          await write(counter, release)
        } catch (err) {
          failure ??= err
          continue
        }
      }
      // Calls may have come while it was written: idle only if none did (a counter forgotten
      // while a reservation for new calls is under way would lose their counts and its grant).
      const stillIdle = idle && counter.recent === 0 && !counter.reserving && counter.waiting.length === 0
      if (current && stillIdle) counter.lastGrant = 0
      if (current && stillIdle && counter.unwritten === 0 && counter.allowance === 0) counters.delete(counter.subscriptionId)
    }
    if (failure !== null) throw failure
  }

  return { take, flush }
}
