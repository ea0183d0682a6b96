import type { Knex } from 'knex'
import type { Clock } from '../kernel/clock'
import { likePattern } from '../../db/paging'
import { periodEnd, periodStart } from '../gateway/limits'
import type { QuotaPeriod } from '../catalog/products'
import { OUTCOMES, type Outcome } from './usage-recorder'
import { BUCKET_COLUMNS, quantile } from './latency'

export const DAY_MS = 86_400_000
export const HOUR_MS = 3_600_000
/** Ranges of this many days or fewer are drawn per hour. */
export const HOURLY_UP_TO_DAYS = 2
/** Outcomes where the backend was asked: their latency is the backend's, and they count in the mean. */
const REACHED_BACKEND: Outcome[] = ['forwarded', 'backend-unreachable', 'backend-timeout', 'backend-invalid']
/** Outcomes where the gateway answered by itself although the call was not refused. */
const ANSWERED: Outcome[] = ['mocked', 'cors-preflight']
export const REFUSALS: Outcome[] = OUTCOMES.filter((o) => !REACHED_BACKEND.includes(o) && !ANSWERED.includes(o))
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
  /** The calls made with the keys of this organisation's subscriptions. */
  organisation?: number
}

/** Latency figures are of the calls that reached a backend (the mean, and p50/p95/p99 from the histogram). */
export interface UsageTotals {
  calls: number
  errors: number
  refused: number
  meanLatencyMs: number | null
  p50Ms: number | null
  p95Ms: number | null
  p99Ms: number | null
}
export interface UsageRow extends UsageTotals { id: number, label: string }
/** One bar of the chart: an hour ("2026-12-03 14:00") or a day ("2026-12-03"), UTC. */
export interface PeriodRow extends UsageTotals { start: number, label: string }
export interface OperationRow extends UsageTotals { apiId: number, api: string, operation: string }
/**
 * Calls by exact status code, told apart by who answered: the backend (forwarded), or the gateway
 * itself (refusals, mock answers, preflights, and its 502/504 when the backend failed).
 */
export interface StatusRow { status: number, label: string, calls: number, backend: number, gateway: number }
export interface RefusalRow { outcome: Outcome, developerId: number, developer: string, subscriptionId: number, calls: number }

export type Breakdown = 'apis' | 'products' | 'developers' | 'operations'
export const BREAKDOWNS: Breakdown[] = ['apis', 'products', 'developers', 'operations']

export interface UsageReport {
  /** Drawn per hour for ranges of two days or less, else per day. */
  per: 'hour' | 'day'
  total: UsageTotals
  periods: PeriodRow[]
  apis: UsageRow[]
  products: UsageRow[]
  developers: UsageRow[]
  operations: OperationRow[]
  statuses: StatusRow[]
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

type Sum = number | string | null
/** A row of sums, as the database returns it (strings from PostgreSQL's bigint sums); `lat_*`: the histogram. */
type SumRow = Record<string, Sum>
const SUM_COLUMNS = ['calls', 'errors', 'refused', 'reached', 'latency', ...BUCKET_COLUMNS]

function totals (row: SumRow | undefined): UsageTotals {
  const calls = Number(row?.calls ?? 0)
  const reached = Number(row?.reached ?? 0)
  const buckets = BUCKET_COLUMNS.map((column) => Number(row?.[column] ?? 0))
  return {
    calls,
    errors: Number(row?.errors ?? 0),
    refused: Number(row?.refused ?? 0),
    meanLatencyMs: reached === 0 ? null : Math.round(Number(row?.latency ?? 0) / reached),
    p50Ms: quantile(0.5, buckets),
    p95Ms: quantile(0.95, buckets),
    p99Ms: quantile(0.99, buckets)
  }
}

const EMPTY: UsageTotals = { calls: 0, errors: 0, refused: 0, meanLatencyMs: null, p50Ms: null, p95Ms: null, p99Ms: null }

/** "2026-12-03 14:00" for an hour, "2026-12-03" for a day (UTC). */
export const periodLabel = (ms: number, per: 'hour' | 'day'): string =>
  per === 'day' ? dayString(ms) : `${dayString(ms)} ${new Date(ms).toISOString().slice(11, 16)}`

/** Whether a range (both days included) is drawn per hour. */
export const perOf = (fromMs: number, toMs: number): 'hour' | 'day' => (toMs - fromMs) / DAY_MS + 1 <= HOURLY_UP_TO_DAYS ? 'hour' : 'day'

/** Reports drawn from `gateway_usage` (analytics, a subscription's page) and `quota_usage` (calls this period). */
export function createUsageReports ({ db, clock }: { db: Knex, clock: Clock }) {
  const reachedIn = `outcome in (${REACHED_BACKEND.map(() => '?').join(', ')})`
  function sums (q: Knex.QueryBuilder): Knex.QueryBuilder {
    const refused = REFUSALS.map(() => '?').join(', ')
    return q.select(
      db.raw('sum(calls) as calls'),
      db.raw('sum(case when status_class >= 4 then calls else 0 end) as errors'),
      db.raw(`sum(case when outcome in (${refused}) then calls else 0 end) as refused`, REFUSALS),
      db.raw(`sum(case when ${reachedIn} then calls else 0 end) as reached`, REACHED_BACKEND),
      db.raw(`sum(case when ${reachedIn} then latency_ms else 0 end) as latency`, REACHED_BACKEND),
      ...BUCKET_COLUMNS.map((column) => db.raw(`sum(case when ${reachedIn} then ?? else 0 end) as ??`, [...REACHED_BACKEND, column, column]))
    )
  }

  function filtered (filter: UsageFilter, fromMs: number, toMs: number): Knex.QueryBuilder {
    const q = db('gateway_usage').where('hour', '>=', fromMs).where('hour', '<', toMs + DAY_MS)
    if (filter.api !== undefined) void q.where('api_id', filter.api)
    if (filter.product !== undefined) void q.where('product_id', filter.product)
    if (filter.subscription !== undefined) void q.where('subscription_id', filter.subscription)
    if (filter.organisation !== undefined) void q.whereIn('subscription_id', db('subscriptions').where('organisation_id', filter.organisation).select('id'))
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
   * Calls, errors, refusals and latency over a range of days: per hour or day (the totals are
   * their sum), by exact status code, who was refused, and by API, product, developer and
   * operation (those of `by`; all by default).
   */
  async function report (filter: UsageFilter, { by = BREAKDOWNS, per: asked }: { by?: Breakdown[], per?: 'day' } = {}): Promise<UsageReport> {
    const fromMs = parseDay(filter.from) ?? 0
    const toMs = parseDay(filter.to) ?? fromMs
    const per = asked ?? perOf(fromMs, toMs)
    const step = per === 'hour' ? HOUR_MS : DAY_MS
    const where = (): Knex.QueryBuilder => filtered(filter, fromMs, toMs)
    const none: UsageRow[] = []
    const [periodRows, apis, products, developers, operations, statusRows, refusalRows] = await Promise.all([
      sums(where()).select(db.raw(`(hour / ${step}) as period`)).groupByRaw(`(hour / ${step})`),
      by.includes('apis') ? grouped(filter, fromMs, toMs, 'api_id', namesFrom('apis', 'name'), 'No API matched') : none,
      by.includes('products') ? grouped(filter, fromMs, toMs, 'product_id', namesFrom('products', 'name'), 'No product (no key)') : none,
      by.includes('developers') ? grouped(filter, fromMs, toMs, 'developer_id', namesFrom('developers', 'email'), 'No key, or an unknown key') : none,
      by.includes('operations') ? byOperation(where()) : [],
      where().groupBy('status', 'status_class').orderBy('status').select('status', 'status_class', db.raw('sum(calls) as calls'),
        db.raw('sum(case when outcome = ? then calls else 0 end) as backend', ['forwarded'])),
      where().whereIn('outcome', REFUSALS).groupBy('outcome', 'developer_id', 'subscription_id')
        .select('outcome', 'developer_id', 'subscription_id', db.raw('sum(calls) as calls')).orderByRaw('sum(calls) desc').limit(50)
    ])
    const all: SumRow = Object.fromEntries(SUM_COLUMNS.map((k) => [k, 0]))
    for (const row of periodRows as SumRow[]) {
      for (const k of SUM_COLUMNS) all[k] = Number(all[k]) + Number(row[k] ?? 0)
    }
    const byPeriod = new Map<number, UsageTotals>((periodRows as SumRow[]).map((r) => [Number(r.period) * step, totals(r)]))
    const periods: PeriodRow[] = []
    for (let ms = fromMs; ms < toMs + DAY_MS; ms += step) periods.push({ start: ms, label: periodLabel(ms, per), ...(byPeriod.get(ms) ?? EMPTY) })
    const statuses = (statusRows as Array<{ status: Sum, status_class: Sum, calls: Sum, backend: Sum }>).map((r) => {
      const status = Number(r.status)
      const calls = Number(r.calls)
      const backend = Number(r.backend)
      return { status, label: status === 0 ? `${Number(r.status_class)}xx (counted before exact codes were kept)` : String(status), calls, backend, gateway: calls - backend }
    })
    const who = await namesFrom('developers', 'email')((refusalRows as Array<{ developer_id: number }>).map((r) => Number(r.developer_id)).filter((id) => id !== 0))
    const refusals = (refusalRows as Array<{ outcome: Outcome, developer_id: Sum, subscription_id: Sum, calls: Sum }>).map((r) => {
      const developerId = Number(r.developer_id)
      return {
        outcome: r.outcome,
        developerId,
        developer: developerId === 0 ? 'No key, or an unknown key' : who.get(developerId) ?? `#${developerId} (deleted)`,
        subscriptionId: Number(r.subscription_id),
        calls: Number(r.calls)
      }
    })
    return { per, total: totals(all), periods, apis, products, developers, operations, statuses, refusals }
  }

  /** The busiest 100 operations, with their API's name. */
  async function byOperation (q: Knex.QueryBuilder): Promise<OperationRow[]> {
    const rows = await sums(q.where('operation', '<>', '')).select('api_id', 'operation').groupBy('api_id', 'operation').orderByRaw('sum(calls) desc').limit(100)
    const names = await namesFrom('apis', 'name')([...new Set<number>(rows.map((r: { api_id: Sum }) => Number(r.api_id)))])
    return rows.map((row: SumRow & { operation: string }) => {
      const apiId = Number(row.api_id)
      return { apiId, api: names.get(apiId) ?? `#${apiId} (deleted)`, operation: row.operation, ...totals(row) }
    })
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
