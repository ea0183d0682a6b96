import type { FastifyReply } from 'fastify'
import type { FieldErrors } from '../../services/kernel/errors'
import { DAY_MS, MAX_RANGE_DAYS, dayString, parseDay, type UsageReport, type UsageTotals } from '../../services/usage/usage-reports'
import type { Outcome } from '../../services/usage/usage-recorder'
import { barChart, type BarChart } from './charts'
import { sendCsv } from './csv'
import { querySchema } from './params'

/** Why a call ended where it did, as the reports say it. */
export const OUTCOME_LABELS: Record<Outcome, string> = {
  forwarded: 'Forwarded',
  'no-api': 'No such API',
  'missing-key': 'Missing key',
  'invalid-key': 'Invalid key',
  'rate-limited': 'Rate limit exceeded',
  'too-many-calls': 'Too many calls at once',
  'quota-exceeded': 'Quota used up',
  'bad-path': 'Bad path',
  'body-timeout': 'Request body too slow',
  'backend-busy': 'Backend busy',
  'backend-unreachable': 'Backend unreachable',
  'backend-timeout': 'Backend timed out',
  'backend-invalid': 'Backend answer unusable',
  'ip-refused': 'Client address not allowed',
  'cors-preflight': 'CORS preflight answered',
  'cors-refused': 'CORS origin refused',
  mocked: 'Mock answer',
  'mock-unmatched': 'Mock: no such operation'
}

export const rangeQuery = { from: { type: 'string', maxLength: 30 }, to: { type: 'string', maxLength: 30 } } as const
export const rangeSchema = querySchema(rangeQuery)
export interface RangeQuery { from?: string, to?: string }

const DEFAULT_DAYS = 7

/** The range asked for, checked: real days, from ≤ to, at most a year; the last 7 days by default. */
export function usageRange (raw: RangeQuery, now = Date.now()): { from: string, to: string, errors: FieldErrors } {
  const today = now - (now % DAY_MS)
  const errors: FieldErrors = {}
  const from = raw.from?.trim() ?? ''
  const to = raw.to?.trim() ?? ''
  const toMs = to === '' ? today : parseDay(to)
  if (toMs === null) errors.to = 'Enter the last day as a date, like 2026-11-27.'
  const fromMs = from === '' ? (toMs ?? today) - (DEFAULT_DAYS - 1) * DAY_MS : parseDay(from)
  if (fromMs === null) errors.from = 'Enter the first day as a date, like 2026-11-21.'
  if (fromMs !== null && toMs !== null) {
    if (fromMs > toMs) errors.from = 'The first day must come before the last one.'
    else if ((toMs - fromMs) / DAY_MS + 1 > MAX_RANGE_DAYS) errors.from = `Choose at most ${MAX_RANGE_DAYS} days.`
  }
  return { from: fromMs === null ? from : dayString(fromMs), to: toMs === null ? to : dayString(toMs), errors }
}

/** The two charts of a report: calls (errors among them) and mean latency, per hour or per day. */
export function usageCharts (report: UsageReport, from: string, to: string): { calls: BarChart, latency: BarChart } {
  const per = report.per
  // Hours are labelled by their time ("14:00", with the day at midnight), days by month and day.
  const label = (p: { label: string }): string => per === 'day' ? p.label.slice(5) : p.label.endsWith('00:00') ? p.label.slice(5, 10) : p.label.slice(11)
  return {
    calls: barChart('calls-chart', `Calls per ${per}`, `Calls from ${from} to ${to} per ${per} (UTC), with the errors among them (4xx and 5xx answers).`,
      report.periods.map((p) => ({ label: label(p), value: p.calls, part: p.errors })), { legend: ['Calls', 'Errors'] }),
    latency: barChart('latency-chart', `Mean latency per ${per}`, `Mean time in milliseconds of the calls forwarded to a backend, from ${from} to ${to} per ${per} (UTC).`,
      report.periods.map((p) => ({ label: label(p), value: p.meanLatencyMs ?? 0 })), { unit: ' ms' })
  }
}

export const USAGE_CSV_COLUMNS = ['section', 'item', 'api', 'developer', 'subscription', 'calls', 'errors', 'refused',
  'mean_latency_ms', 'p50_ms', 'p95_ms', 'p99_ms', 'answered_by_backend', 'answered_by_gateway']

type Cell = string | number | null

/**
 * A report as CSV rows, one section after another as the page shows them: total, each hour or
 * day, by API, product, developer and operation, by status code, refused calls.
 */
export function usageCsvRows (report: UsageReport, from: string, to: string): Cell[][] {
  const figures = (t: UsageTotals): Cell[] => [t.calls, t.errors, t.refused, t.meanLatencyMs, t.p50Ms, t.p95Ms, t.p99Ms, null, null]
  const rows: Cell[][] = [['total', `${from} to ${to}`, null, null, null, ...figures(report.total)]]
  for (const p of report.periods) rows.push([report.per, p.label, null, null, null, ...figures(p)])
  for (const [section, list] of [['api', report.apis], ['product', report.products], ['developer', report.developers]] as const) {
    for (const row of list) rows.push([section, row.label, null, null, null, ...figures(row)])
  }
  for (const op of report.operations) rows.push(['operation', op.operation, op.api, null, null, ...figures(op)])
  for (const s of report.statuses) rows.push(['status', s.label, null, null, null, s.calls, null, null, null, null, null, null, s.backend, s.gateway])
  for (const f of report.refusals) {
    rows.push(['refused', OUTCOME_LABELS[f.outcome], null, f.developer, f.subscriptionId === 0 ? null : f.subscriptionId, f.calls, null, f.calls, null, null, null, null, null, null])
  }
  return rows
}

/** Sends a report as a CSV download named like portico-usage-2026-11-27-2026-12-03.csv. */
export async function sendUsageCsv (reply: FastifyReply, name: string, report: UsageReport, from: string, to: string): Promise<FastifyReply> {
  const rows = usageCsvRows(report, from, to)
  async function * once (): AsyncGenerator<Cell[][]> { yield rows }
  return await sendCsv(reply, `${name}-${from}-${to}.csv`, USAGE_CSV_COLUMNS, once())
}
