import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * What operators scrape (GET /metrics, prom-client): gateway calls by API, product, status class
 * and outcome; the gateway's latency; portal requests by route template; the outbox's queue; the
 * process. Labels are ids, route templates and classes only: never a key, an account or a raw path.
 * One registry per app, built only when METRICS_TOKEN is set.
 */
export function createMetrics (deps: { queuedEmails: () => Promise<number> }) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const statusClass = (status: number): string => `${Math.floor(status / 100)}xx`

  const gatewayCalls = new Counter({
    name: 'portico_gateway_calls_total',
    help: 'Gateway calls, by API id, product id (0: none), status class and outcome (forwarded, or why the gateway answered itself).',
    labelNames: ['api_id', 'product_id', 'status_class', 'outcome'] as const,
    registers
  })
  const gatewayLatency = new Histogram({
    name: 'portico_gateway_call_duration_seconds',
    help: 'Time from a gateway call\'s arrival to the end of its answer, by API id.',
    labelNames: ['api_id'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers
  })
  const portalRequests = new Counter({
    name: 'portico_portal_requests_total',
    help: 'Portal and management API requests, by method, route template and status class.',
    labelNames: ['method', 'route', 'status_class'] as const,
    registers
  })
  // eslint-disable-next-line no-new -- registered on creation; read at every scrape.
  new Gauge({
    name: 'portico_outbox_queued_emails',
    help: 'Emails waiting in the outbox to be sent (queued, or being retried).',
    registers,
    async collect () { this.set(await deps.queuedEmails()) }
  })

  return {
    gatewayCall (apiId: number, productId: number, status: number, outcome: string, latencyMs: number): void {
      gatewayCalls.inc({ api_id: String(apiId), product_id: String(productId), status_class: statusClass(status), outcome })
      gatewayLatency.observe({ api_id: String(apiId) }, latencyMs / 1000)
    },
    portalRequest (method: string, route: string | undefined, status: number): void {
      portalRequests.inc({ method, route: route ?? 'unmatched', status_class: statusClass(status) })
    },
    text: async (): Promise<string> => await registry.metrics(),
    contentType: registry.contentType
  }
}

export type Metrics = ReturnType<typeof createMetrics>
