import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../services/metrics/metrics'

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/**
 * GET /metrics: Prometheus text to `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN
 * the route does not exist (404). Outside the portal: no session, no CSRF, no cookies.
 */
export default async function metricsRoutes (app: FastifyInstance, options: { metrics: Metrics, token: string }): Promise<void> {
  const expected = digest(`Bearer ${options.token}`)
  app.get('/metrics', async (request, reply) => {
    const given = request.headers.authorization
    // Compared as digests, in constant time: the answer's timing says nothing of the token.
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) {
      return await reply.code(401).header('www-authenticate', 'Bearer realm="metrics"').header('cache-control', 'no-store')
        .type('text/plain; charset=utf-8').send('A valid METRICS_TOKEN is needed: send Authorization: Bearer <token>.\n')
    }
    return await reply.header('cache-control', 'no-store').type(options.metrics.contentType).send(await options.metrics.text())
  })
}
