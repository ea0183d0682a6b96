import type { FastifyInstance } from 'fastify'
import type { FieldErrors } from '../../services/kernel/errors'
import { DAY_MS, MAX_RANGE_DAYS, dayString, parseDay, type UsageFilter, type UsageReport } from '../../services/usage/usage-reports'
import type { Outcome } from '../../services/usage/usage-recorder'
import { barChart } from '../shared/charts'
import { filterId, querySchema } from '../shared/params'

const query = querySchema({
  from: { type: 'string', maxLength: 30 },
  to: { type: 'string', maxLength: 30 },
  api: { type: 'string', maxLength: 20 },
  product: { type: 'string', maxLength: 20 },
  developer: { type: 'string', maxLength: 300 }
})
interface Query { from?: string, to?: string, api?: string, product?: string, developer?: string }

const DEFAULT_DAYS = 7

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

/** The range asked for, checked: real days, from ≤ to, at most a year; last 7 days by default. */
function range (raw: Query, today: number): { from: string, to: string, errors: FieldErrors } {
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

/** GET /admin/analytics: calls, errors and latency by day, API, product and developer, with SVG charts. */
export default async function analyticsRoutes (app: FastifyInstance): Promise<void> {
  const { usage, apis, products } = app.services

  app.get<{ Querystring: Query }>('/analytics', { schema: query }, async (request, reply) => {
    const now = Date.now()
    const today = now - (now % DAY_MS)
    const { from, to, errors } = range(request.query, today)
    const filter: UsageFilter = { from, to, api: filterId(request.query.api), product: filterId(request.query.product), developer: request.query.developer?.trim() ?? '' }
    const valid = Object.keys(errors).length === 0
    const report: UsageReport | null = valid ? await usage.report(filter) : null
    const charts = report === null
      ? null
      : {
          calls: barChart('calls-chart', 'Calls per day', `Calls from ${from} to ${to}, with the errors among them (4xx and 5xx answers).`,
            report.days.map((d) => ({ label: d.day.slice(5), value: d.calls, part: d.errors })), { legend: ['Calls', 'Errors'] }),
          latency: barChart('latency-chart', 'Mean latency per day', `Mean time in milliseconds of the calls forwarded to a backend, from ${from} to ${to}.`,
            report.days.map((d) => ({ label: d.day.slice(5), value: d.meanLatencyMs ?? 0 })), { unit: ' ms' })
        }
    const page = {
      title: 'Analytics',
      values: { from, to, api: request.query.api ?? '', product: request.query.product ?? '', developer: filter.developer ?? '' },
      errors,
      report,
      charts,
      outcomes: OUTCOME_LABELS,
      apis: await apis.listApis(),
      products: await products.listProducts(),
      gatewayUrl: app.config.gatewayUrl
    }
    return await reply.page('publisher/analytics', page, valid ? 200 : 400)
  })
}
