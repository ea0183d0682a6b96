import type { FastifyInstance, FastifyReply } from 'fastify'
import type { UsageFilter, UsageReport } from '../../services/usage/usage-reports'
import { filterId, querySchema } from '../shared/params'
import { OUTCOME_LABELS, rangeQuery, sendUsageCsv, usageCharts, usageRange, type RangeQuery } from '../shared/usage'

const query = querySchema({
  ...rangeQuery,
  api: { type: 'string', maxLength: 20 },
  product: { type: 'string', maxLength: 20 },
  developer: { type: 'string', maxLength: 300 },
  organisation: { type: 'string', maxLength: 20 }
})
interface Query extends RangeQuery { api?: string, product?: string, developer?: string, organisation?: string }

/**
 * GET /admin/analytics: calls, errors and latency (mean, p50/p95/p99) per hour or day, by API,
 * product, developer, operation and status code, with SVG charts; GET /admin/analytics.csv: the same.
 */
export default async function analyticsRoutes (app: FastifyInstance): Promise<void> {
  const { usage, apis, products } = app.services

  async function shown (raw: Query) {
    const { from, to, errors } = usageRange(raw)
    const filter: UsageFilter = { from, to, api: filterId(raw.api), product: filterId(raw.product), developer: raw.developer?.trim() ?? '', organisation: filterId(raw.organisation) }
    const valid = Object.keys(errors).length === 0
    const report: UsageReport | null = valid ? await usage.report(filter) : null
    return { from, to, errors, filter, report }
  }

  async function page (reply: FastifyReply, raw: Query, { from, to, errors, filter, report }: Awaited<ReturnType<typeof shown>>): Promise<FastifyReply> {
    const values = { from, to, api: raw.api ?? '', product: raw.product ?? '', developer: filter.developer ?? '', organisation: raw.organisation ?? '' }
    return await reply.page('publisher/analytics', {
      title: 'Analytics',
      values,
      errors,
      report,
      charts: report === null ? null : usageCharts(report, from, to),
      outcomes: OUTCOME_LABELS,
      // The CSV link carries the filters shown.
      csvQuery: new URLSearchParams(Object.entries(values).filter(([, v]) => v !== '')).toString(),
      apis: await apis.listApis(),
      products: await products.listProducts(),
      organisations: await app.services.organisations.names(),
      gatewayUrl: app.config.gatewayUrl
    }, report === null ? 400 : 200)
  }

  app.get<{ Querystring: Query }>('/analytics', { schema: query }, async (request, reply) => await page(reply, request.query, await shown(request.query)))

  app.get<{ Querystring: Query }>('/analytics.csv', { schema: query }, async (request, reply) => {
    const result = await shown(request.query)
    // A range that cannot be read gets the page with its messages, as the form would.
    if (result.report === null) return await page(reply, request.query, result)
    return await sendUsageCsv(reply, 'portico-analytics', result.report, result.from, result.to)
  })
}
