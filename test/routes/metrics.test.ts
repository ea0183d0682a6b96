import t from 'tap'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { ADMIN, makeApp, signedInClient } from '../helpers'
import { gatewayWorld, startBackend } from '../fixtures/gateway'

const TOKEN = 'metrics-token-for-the-test-0123456789'

t.test('GET /metrics is 404 without METRICS_TOKEN', async (t) => {
  const app = await makeApp(t)
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 404)
})

t.test('GET /metrics: Prometheus text behind the token, with the expected series and no key, account or raw path in any label', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, { METRICS_TOKEN: TOKEN })
  const world = await gatewayWorld(app, backend.url)
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: `/gateway/books/items/${i}?secret-query=${i}`, headers: { 'ocp-apim-subscription-key': world.primary } })).statusCode, 200)
  t.equal((await app.inject({ url: '/gateway/books/items', headers: { 'ocp-apim-subscription-key': 'f'.repeat(32) } })).statusCode, 401)
  const admin = await signedInClient(app, ADMIN)
  t.equal((await admin.get(`/admin/developers/${world.dev.id}`)).statusCode, 200)

  t.equal((await app.inject({ url: '/metrics' })).statusCode, 401, 'no token')
  const wrong = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token-of-some-length' } })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.headers['www-authenticate'], /Bearer/)
  const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.equal(res.headers['set-cookie'], undefined, 'no session for a scrape')
  const families = parsePrometheusTextFormat(res.body)
  const family = (name: string) => families.find((f) => f.name === name)

  const calls = family('portico_gateway_calls_total')
  t.equal(calls?.type, 'COUNTER')
  const forwarded = calls?.metrics.find((m) => m.labels?.outcome === 'forwarded')
  t.same(forwarded?.labels, { api_id: String(world.apiId), product_id: String(world.productId), status_class: '2xx', outcome: 'forwarded' })
  t.equal(Number(forwarded?.value), 3)
  t.equal(Number(calls?.metrics.find((m) => m.labels?.outcome === 'invalid-key')?.value), 1)
  const latency = family('portico_gateway_call_duration_seconds')
  t.equal(latency?.type, 'HISTOGRAM')
  t.equal(Number(latency?.metrics[0].buckets?.['+Inf']), 4, 'every call observed (the +Inf bucket)')
  const portal = family('portico_portal_requests_total')
  t.ok(portal?.metrics.some((m) => m.labels?.route === '/admin/developers/:id' && m.labels.status_class === '2xx'), 'portal requests by route template')
  t.ok(family('portico_outbox_queued_emails'), 'the outbox queue')
  t.ok(family('process_cpu_user_seconds_total') && family('nodejs_heap_size_used_bytes'), 'process metrics')

  const labels = families.flatMap((f) => f.metrics.flatMap((m) => Object.values(m.labels ?? {})))
  for (const secret of [world.primary, world.secondary, world.dev.email, ADMIN.email, '/items', 'secret-query', String(world.dev.id) + '@']) {
    t.notOk(labels.some((value) => value.includes(secret)), `no label holds ${secret.slice(0, 12)}…`)
  }
  t.notMatch(res.body, world.primary, 'no key anywhere in the text')
})

t.test('METRICS_TOKEN must be long enough', async (t) => {
  await t.rejects(makeApp(t, { METRICS_TOKEN: 'short' }), /METRICS_TOKEN/)
})
