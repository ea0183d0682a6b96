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
 * Rate limits: calls per subscription in fixed windows of the product's period, in this
 * instance's memory (as the contract says: per instance). Answers how long to wait, or 0.
 */
export function createRateLimiter () {
  let windows = new Map<number, { start: number, calls: number }>()
  let swept = 0

  function take (subscriptionId: number, limit: { calls: number, periodMs: number }, now: number): number {
    if (now - swept > 60_000) {
      // Forget windows that ended a while ago, so idle subscriptions cost nothing.
      const fresh = new Map<number, { start: number, calls: number }>()
      for (const [id, w] of windows) if (now - w.start < 31 * 86_400_000) fresh.set(id, w)
      windows = fresh
      swept = now
    }
    const start = now - (now % limit.periodMs)
    let w = windows.get(subscriptionId)
    if (w === undefined || w.start !== start) windows.set(subscriptionId, w = { start, calls: 0 })
    if (w.calls >= limit.calls) return start + limit.periodMs - now
    w.calls++
    return 0
  }

  return { take }
}

interface QuotaCounter {
  subscriptionId: number
  period: QuotaPeriod
  start: number
  /** The quota's calls, as of the last call. */
  limit: number
  /** Calls in the database as last read or written. */
  stored: number
  /** Calls this instance let through and has not written yet. */
  pending: number
  loading: Promise<void> | null
}

export interface QuotaCrossing { subscriptionId: number, calls: number, periodStart: string, resetsAt: number }

/**
 * Quotas: counted durably in `quota_usage`. Each instance keeps what it knows (the stored count
 * plus its own unwritten calls) and writes its calls in one statement per subscription every
 * `flushMs`, reading back the total that every instance reached; a subscription not called since
 * the last flush is forgotten and read afresh on its next call. So the quota holds across
 * instances and restarts, overshooting by at most what each instance lets through in one flush
 * interval (≤ 1 s) before it sees the others' calls.
 */
export function createQuotaCounter (db: Knex, onWarn: (crossing: QuotaCrossing) => Promise<void>) {
  const counters = new Map<number, QuotaCounter>()
  // Counters of a period that ended with calls not yet written: written at the next flush.
  let retired: QuotaCounter[] = []

  const iso = (ms: number): string => new Date(ms).toISOString()

  async function load (subscriptionId: number, counter: QuotaCounter): Promise<void> {
    const row = await db('quota_usage').where({ subscription_id: subscriptionId, period_start: iso(counter.start) }).first('calls')
    counter.stored = Number(row?.calls ?? 0)
  }

  /**
   * Takes one call from the quota. Answers the milliseconds until it renews when it is used up,
   * 0 when the call may go; a promise only the first time a subscription is seen in a period.
   */
  function take (subscriptionId: number, quota: { calls: number, period: QuotaPeriod }, now: number): number | Promise<number> {
    const start = periodStart(quota.period, now)
    let counter = counters.get(subscriptionId)
    if (counter === undefined || counter.start !== start || counter.period !== quota.period) {
      if (counter !== undefined && counter.pending > 0) retired.push(counter)
      counter = { subscriptionId, period: quota.period, start, limit: quota.calls, stored: 0, pending: 0, loading: null }
      counters.set(subscriptionId, counter)
      const c = counter
      c.loading = load(subscriptionId, c).finally(() => { c.loading = null })
    }
    counter.limit = quota.calls
    if (counter.loading !== null) {
      const c = counter
      return counter.loading.then(() => count(c, now))
    }
    return count(counter, now)
  }

  function count (counter: QuotaCounter, now: number): number {
    if (counter.stored + counter.pending >= counter.limit) return Math.max(1, periodEnd(counter.period, counter.start) - now)
    counter.pending++
    return 0
  }

  /**
   * Writes every subscription's unwritten calls and reads back the totals; a total that passes 90%
   * of its quota for the first time in the period is handed to onWarn (once, across instances).
   */
  async function flush (): Promise<void> {
    const ended = retired
    retired = []
    for (const counter of [...ended, ...counters.values()]) {
      const { subscriptionId } = counter
      if (counter.loading !== null) continue
      if (counter.pending === 0) {
        // Not called here since the last flush: forget it, so the next call reads what the other
        // instances counted meanwhile instead of an old total.
        if (counters.get(subscriptionId) === counter) counters.delete(subscriptionId)
        continue
      }
      const add = counter.pending
      counter.pending = 0
      const periodStart = iso(counter.start)
      try {
        const [row] = await db('quota_usage')
          .insert({ subscription_id: subscriptionId, period_start: periodStart, calls: add, warned: false })
          .onConflict(['subscription_id', 'period_start'])
          .merge({ calls: db.raw('?? + ?', ['quota_usage.calls', add]) })
          .returning(['calls', 'warned'])
        const total = Number(row.calls)
        if (counters.get(subscriptionId) === counter) counter.stored = total
        const quota = counter.limit
        if (!(row.warned === true || row.warned === 1) && total >= Math.ceil(quota * 0.9)) {
          const claimed = await db('quota_usage').where({ subscription_id: subscriptionId, period_start: periodStart, warned: false }).update({ warned: true })
          if (claimed > 0) await onWarn({ subscriptionId, calls: quota, periodStart, resetsAt: periodEnd(counter.period, counter.start) })
        }
      } catch (err) {
        // Not written: keep the calls for the next flush.
        counter.pending += add
        if (counters.get(subscriptionId) !== counter && !retired.includes(counter)) retired.push(counter)
        throw err
      }
    }
  }

  return { take, flush }
}
