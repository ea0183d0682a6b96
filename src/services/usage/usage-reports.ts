import type { Knex } from 'knex'
import type { Clock } from '../kernel/clock'
import { likePattern } from '../../db/paging'
import { periodEnd, periodStart } from '../gateway/limits'
import type { QuotaPeriod } from '../catalog/products'
import { OUTCOMES, type Outcome } from './usage-recorder'

export const DAY_MS = 86_400_000
/** Outcomes where the backend was asked: their latency is the backend's, and they count in the mean. */
const REACHED_BACKEND: Outcome[] = ['forwarded', 'backend-unreachable', 'backend-timeout', 'backend-invalid']
export const REFUSALS: Outcome[] = OUTCOMES.filter((o) => !REACHED_BACKEND.includes(o))
/** The longest range a report covers. */
export const MAX_RANGE_DAYS = 366

export interface UsageFilter {
  /** First and last day (UTC), YYYY-MM-DD, both included. */
  from: string
  to: string
  api?: number
  product?: number
  /** Email or name contains this (as on the subscriptions list). */
  developer?: string
  subscription?: number
}

export interface UsageTotals { calls: number, errors: number, refused: number, meanLatencyMs: number | null }
export interface UsageRow extends UsageTotals { id: number, label: string }
export interface DayRow extends UsageTotals { day: string }
export interface RefusalRow { outcome: Outcome, developerId: number, developer: string, subscriptionId: number, calls: number }

export interface UsageReport {
  total: UsageTotals
  days: DayRow[]
  apis: UsageRow[]
  products: UsageRow[]
  developers: UsageRow[]
  refusals: RefusalRow[]
}

export interface QuotaUse { calls: number, quota: number, period: QuotaPeriod, resetsAt: string }

/** The UTC day holding this moment, YYYY-MM-DD. */
export const dayString = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/** The range of the last `days` days up to today (UTC). */
export function lastDays (days: number, now: number): { from: string, to: string } {
  return { from: dayString(now - (days - 1) * DAY_MS), to: dayString(now) }
}

/** A YYYY-MM-DD that is a real day, as milliseconds at its start (UTC), or null. */
export function parseDay (text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null
  const ms = Date.parse(`${text}T00:00:00Z`)
  return Number.isNaN(ms) || dayString(ms) !== text ? null : ms
}

interface SumRow { calls: number | string | null, errors: number | string | null, refused: number | string | null, reached: number | string | null, latency: number | string | null }

function totals (row: SumRow | undefined): UsageTotals {
  const calls = Number(row?.calls ?? 0)
  const reached = Number(row?.reached ?? 0)
  return {
    calls,
    errors: Number(row?.errors ?? 0),
    refused: Number(row?.refused ?? 0),
    meanLatencyMs: reached === 0 ? null : Math.round(Number(row?.latency ?? 0) / reached)
  }
}

/** Reports drawn from `gateway_usage` (analytics, a subscription's page) and `quota_usage` (calls this period). */
export function createUsageReports ({ db, clock }: { db: Knex, clock: Clock }) {
  function sums (q: Knex.QueryBuilder): Knex.QueryBuilder {
    const reached = REACHED_BACKEND.map(() => '?').join(', ')
    const refused = REFUSALS.map(() => '?').join(', ')
    return q.select(
      db.raw('sum(calls) as calls'),
      db.raw('sum(case when status_class >= 4 then calls else 0 end) as errors'),
      db.raw(`sum(case when outcome in (${refused}) then calls else 0 end) as refused`, REFUSALS),
      db.raw(`sum(case when outcome in (${reached}) then calls else 0 end) as reached`, REACHED_BACKEND),
      db.raw(`sum(case when outcome in (${reached}) then latency_ms else 0 end) as latency`, REACHED_BACKEND)
    )
  }

  function filtered (filter: UsageFilter, fromMs: number, toMs: number): Knex.QueryBuilder {
    const q = db('gateway_usage').where('hour', '>=', fromMs).where('hour', '<', toMs + DAY_MS)
    if (filter.api !== undefined) void q.where('api_id', filter.api)
    if (filter.product !== undefined) void q.where('product_id', filter.product)
    if (filter.subscription !== undefined) void q.where('subscription_id', filter.subscription)
    const developer = filter.developer?.trim().toLowerCase() ?? ''
    if (developer !== '') {
      void q.whereIn('developer_id', db('developers').where((w) => {
        void w.whereRaw('email_normalized like ? escape ?', [likePattern(developer), '\\']).orWhereRaw('name_normalized like ? escape ?', [likePattern(developer), '\\'])
      }).select('id'))
    }
    return q
  }

  async function grouped (filter: UsageFilter, fromMs: number, toMs: number, column: 'api_id' | 'product_id' | 'developer_id',
    labels: (ids: number[]) => Promise<Map<number, string>>, none: string): Promise<UsageRow[]> {
    const rows = await sums(filtered(filter, fromMs, toMs)).select(`${column} as id`).groupBy(column).orderByRaw('sum(calls) desc').limit(100)
    const names = await labels(rows.map((r: { id: number }) => Number(r.id)).filter((id: number) => id !== 0))
    return rows.map((row: SumRow & { id: number | string }) => {
      const id = Number(row.id)
      return { id, label: id === 0 ? none : names.get(id) ?? `#${id} (deleted)`, ...totals(row) }
    })
  }

  const namesFrom = (table: string, column: string) => async (ids: number[]): Promise<Map<number, string>> => {
    if (ids.length === 0) return new Map()
    const rows: Array<{ id: number, label: string }> = await db(table).whereIn('id', ids).select('id', `${column} as label`)
    return new Map(rows.map((r) => [r.id, r.label]))
  }

  /**
   * Calls, errors, refusals and mean latency over a range of days: by day (the totals are their
   * sum), who was refused, and — unless `breakdowns` is false — by API, product and developer.
   */
  async function report (filter: UsageFilter, { breakdowns = true } = {}): Promise<UsageReport> {
    const fromMs = parseDay(filter.from) ?? 0
    const toMs = parseDay(filter.to) ?? fromMs
    const [dayRows, apis, products, developers, refusalRows] = await Promise.all([
      sums(filtered(filter, fromMs, toMs)).select(db.raw(`(hour / ${DAY_MS}) as day`)).groupByRaw(`(hour / ${DAY_MS})`),
      breakdowns ? grouped(filter, fromMs, toMs, 'api_id', namesFrom('apis', 'name'), 'No API matched') : [],
      breakdowns ? grouped(filter, fromMs, toMs, 'product_id', namesFrom('products', 'name'), 'No product (no key)') : [],
      breakdowns ? grouped(filter, fromMs, toMs, 'developer_id', namesFrom('developers', 'email'), 'No key, or an unknown key') : [],
      filtered(filter, fromMs, toMs).whereIn('outcome', REFUSALS).groupBy('outcome', 'developer_id', 'subscription_id')
        .select('outcome', 'developer_id', 'subscription_id', db.raw('sum(calls) as calls')).orderByRaw('sum(calls) desc').limit(50)
    ])
    const all: SumRow = { calls: 0, errors: 0, refused: 0, reached: 0, latency: 0 }
    for (const row of dayRows as SumRow[]) {
      for (const k of Object.keys(all) as Array<keyof SumRow>) all[k] = Number(all[k]) + Number(row[k] ?? 0)
    }
    const byDay = new Map<number, UsageTotals>((dayRows as Array<SumRow & { day: number | string }>).map((r) => [Number(r.day), totals(r)]))
    const days: DayRow[] = []
    for (let ms = fromMs; ms <= toMs; ms += DAY_MS) {
      days.push({ day: dayString(ms), ...(byDay.get(ms / DAY_MS) ?? { calls: 0, errors: 0, refused: 0, meanLatencyMs: null }) })
    }
    const who = await namesFrom('developers', 'email')((refusalRows as Array<{ developer_id: number }>).map((r) => Number(r.developer_id)).filter((id) => id !== 0))
    const refusals = (refusalRows as Array<{ outcome: Outcome, developer_id: number | string, subscription_id: number | string, calls: number | string }>).map((r) => {
      const developerId = Number(r.developer_id)
      return {
        outcome: r.outcome,
        developerId,
        developer: developerId === 0 ? 'No key, or an unknown key' : who.get(developerId) ?? `#${developerId} (deleted)`,
        subscriptionId: Number(r.subscription_id),
        calls: Number(r.calls)
      }
    })
    return { total: totals(all), days, apis, products, developers, refusals }
  }

  /** Calls this period against the quota, for the subscriptions among these whose product has one. */
  async function quotaUse (subscriptionIds: number[]): Promise<Map<number, QuotaUse>> {
    const uses = new Map<number, QuotaUse>()
    if (subscriptionIds.length === 0) return uses
    const now = clock.now().getTime()
    const rows: Array<{ id: number, quota_calls: number, quota_period: QuotaPeriod }> = await db('subscriptions')
      .join('products', 'products.id', 'subscriptions.product_id')
      .whereIn('subscriptions.id', subscriptionIds).whereNotNull('products.quota_calls').whereNotNull('products.quota_period')
      .select('subscriptions.id', 'products.quota_calls', 'products.quota_period')
    if (rows.length === 0) return uses
    const starts = new Map(rows.map((r) => [r.id, periodStart(r.quota_period, now)]))
    const counted: Array<{ subscription_id: number, period_start: string, calls: number | string }> = await db('quota_usage')
      .whereIn('subscription_id', rows.map((r) => r.id)).whereIn('period_start', [...new Set([...starts.values()].map((s) => new Date(s).toISOString()))])
      .select('subscription_id', 'period_start', 'calls')
    for (const row of rows) {
      const start = starts.get(row.id) ?? now
      const used = counted.find((c) => c.subscription_id === row.id && c.period_start === new Date(start).toISOString())
      uses.set(row.id, { calls: Number(used?.calls ?? 0), quota: row.quota_calls, period: row.quota_period, resetsAt: new Date(periodEnd(row.quota_period, start)).toISOString() })
    }
    return uses
  }

  return { report, quotaUse }
}

export type UsageReports = ReturnType<typeof createUsageReports>
