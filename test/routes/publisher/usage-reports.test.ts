import t, { type Test } from 'tap'
import { parse } from 'csv-parse/sync'
import { ADMIN, DEV, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { TestClock } from '../../clock'
import { SYSTEM, gatewayWorld, startBackend } from '../../fixtures/gateway'
import { USAGE_CSV_COLUMNS } from '../../../src/routes/shared/usage'

// Usage reports against a known series of calls through the real gateway and a real backend:
// per operation, per exact status code, p50/p95/p99, hourly bars, the CSV exports, the developer's own.

const DOCUMENT = JSON.stringify({
  openapi: '3.0.3',
  info: { title: 'Books', version: '1' },
  paths: {
    '/items/{id}': { get: { operationId: 'getItem', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'An item' } } } },
    '/slow': { get: { operationId: 'slow', responses: { 200: { description: 'Late' } } } },
    '/missing': { get: { operationId: 'missing', responses: { 404: { description: 'Never there' } } } }
  }
})
const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

/** Yesterday (UTC) at 00:00, and the day as YYYY-MM-DD. */
const yesterday = Date.now() - (Date.now() % DAY_MS) - DAY_MS
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const D = day(yesterday)

async function setup (t: Test) {
  const clock = new TestClock()
  clock.set(new Date(yesterday + 10 * HOUR_MS + 15 * 60_000))
  const backend = await startBackend(t)
  const app = await makeApp(t, {}, { clock })
  const world = await gatewayWorld(app, backend.url)
  const api = await app.services.apis.findApi(world.apiId)
  await app.services.apis.updateApi(world.apiId, { name: api.name, path: api.path, serviceUrl: api.serviceUrl, description: '', openapi: DOCUMENT }, SYSTEM)
  const call = async (path: string, key: string | null = world.primary) =>
    await app.inject({ url: `/gateway/books/${path}`, headers: key === null ? {} : { 'ocp-apim-subscription-key': key } })
  // 10:15 yesterday: 88 quick calls of getItem, 10 of slow (300 ms each), 2 of missing (the backend's 404).
  for (let i = 0; i < 88; i++) t.equal((await call(`items/${i}`)).statusCode, 200)
  for (let i = 0; i < 10; i++) t.equal((await call('slow?ms=300')).statusCode, 200)
  // 12:15: the backend's 404s, and three calls the gateway refuses (no key).
  clock.advance(2 * HOUR_MS)
  for (let i = 0; i < 2; i++) t.equal((await call('missing')).statusCode, 404)
  for (let i = 0; i < 3; i++) t.equal((await call('items/1', null)).statusCode, 401)
  await app.services.gateway.flush()
  return { app, world, clock, admin: await signedInClient(app, ADMIN) }
}

const numberIn = (text: string): number | null => text === '–' ? null : Number(text.replace(/[, ms]/g, ''))
/** A table's rows (by its heading's id), each as its cells' text. */
function tableRows (body: string, id: string): string[][] {
  const start = body.indexOf(`aria-labelledby="${id}"`)
  if (start < 0) return []
  const table = body.slice(start, body.indexOf('</table>', start))
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].slice(1)
    .map((row) => [...row[1].matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((cell) => cell[1].replace(/<[^>]+>/g, '').trim()))
}

t.test('per operation, per exact status code, p50/p95/p99 and hourly bars, against a known series of calls', async (t) => {
  const { admin, world } = await setup(t)
  const page = await admin.get(`/admin/analytics?from=${D}&to=${D}`)
  t.equal(page.statusCode, 200)
  t.match(page.body, /<li><strong>103<\/strong> calls<\/li>/)
  t.match(page.body, /<li><strong>5<\/strong> errors \(4xx, 5xx\)<\/li>/)
  t.match(page.body, /<li><strong>3<\/strong> refused by the gateway<\/li>/)
  // 100 calls reached the backend: 90 quick (under 200 ms) and 10 in the 200–500 ms bucket, so
  // p95 is 5/10 into that bucket and p99 9/10 into it.
  t.match(page.body, /<li><strong>350 ms<\/strong> p95<\/li>/)
  t.match(page.body, /<li><strong>470 ms<\/strong> p99<\/li>/)
  const p50 = Number(/<li><strong>([\d.]+) ms<\/strong> p50<\/li>/.exec(page.body)?.[1])
  t.ok(p50 > 0 && p50 <= 200, `p50 among the quick calls (${p50} ms)`)

  const hours = tableRows(page.body, 'by-period')
  t.equal(hours.length, 24, 'one day: drawn per hour')
  t.same(hours.filter((h) => h[1] !== '0').map((h) => h.slice(0, 4)), [[`${D} 10:00`, '98', '0', '0'], [`${D} 12:00`, '5', '5', '3']])
  t.match(page.body, /<title id="calls-chart-title">Calls per hour<\/title>/)
  t.match(page.body, /<rect class="chart-bar"[^>]*><title>10:00: 98, 0 errors<\/title>/, 'the 10:00 bar')
  t.equal((page.body.match(/<rect class="chart-bar" /g) ?? []).length, 48, '24 bars in each of the two charts')

  const operations = tableRows(page.body, 'by-operation')
  t.same(operations.map((o) => [o[0], o[1], o[2], o[3]]), [['GET /items/{id}', 'Books', '88', '0'], ['GET /slow', 'Books', '10', '0'], ['GET /missing', 'Books', '2', '2']],
    'by method and path template; the 3 calls refused for want of a key are matched to none')
  t.same(operations[1].slice(6).map(numberIn), [350, 485, 497], 'the slow operation: p50, p95, p99 inside 200–500 ms')

  const statuses = tableRows(page.body, 'by-status')
  t.same(statuses, [['200', '98', '98', '0'], ['401', '3', '0', '3'], ['404', '2', '2', '0']], 'exact codes, the backend\'s 404 apart from the gateway\'s 401')

  const twoDays = await admin.get(`/admin/analytics?from=${day(yesterday - DAY_MS)}&to=${D}`)
  t.equal(tableRows(twoDays.body, 'by-period').length, 48, 'two days: still per hour')
  const threeDays = await admin.get(`/admin/analytics?from=${day(yesterday - 2 * DAY_MS)}&to=${D}&api=${world.apiId}`)
  t.same(tableRows(threeDays.body, 'by-period').map((d) => d.slice(0, 2)), [[day(yesterday - 2 * DAY_MS), '0'], [day(yesterday - DAY_MS), '0'], [D, '103']], 'three days: per day')
})

t.test('GET /admin/analytics.csv: every table of the page, with the same numbers', async (t) => {
  const { app, admin } = await setup(t)
  const query = `from=${D}&to=${D}`
  const page = (await admin.get(`/admin/analytics?${query}`)).body
  const csv = await admin.get(`/admin/analytics.csv?${query}`)
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /^text\/csv/)
  t.match(csv.headers['content-disposition'], `attachment; filename="portico-analytics-${D}-${D}.csv"`)
  t.match(page, `href="/admin/analytics.csv?from=${D}&amp;to=${D}"`, 'the page links to its CSV')
  const rows: Array<Record<string, string>> = parse(csv.body, { columns: true, bom: true })
  t.same(Object.keys(rows[0]), USAGE_CSV_COLUMNS)
  const section = (name: string) => rows.filter((r) => r.section === name)
  const figures = (r: Record<string, string>) => ['calls', 'errors', 'refused', 'mean_latency_ms', 'p50_ms', 'p95_ms', 'p99_ms'].map((c) => r[c] === '' ? null : Number(r[c]))
  const total = section('total')[0]
  t.same(figures(total).slice(0, 3), [103, 5, 3])
  for (const [name, value] of [['mean latency', total.mean_latency_ms], ['p50', total.p50_ms], ['p95', total.p95_ms], ['p99', total.p99_ms]]) {
    t.match(page, `<li><strong>${Number(value).toLocaleString('en-GB')} ms</strong> ${name}</li>`, `the total's ${name} as on the page`)
  }
  t.same(section('hour').map((r) => [r.item, ...figures(r)]), tableRows(page, 'by-period').map((cells) => [cells[0], ...cells.slice(1).map(numberIn)]), 'each hour as on the page')
  t.same(section('api').map((r) => [r.item, ...figures(r)]), tableRows(page, 'by-api').map((cells) => [cells[0], ...cells.slice(1).map(numberIn)]))
  t.same(section('developer').map((r) => r.item), tableRows(page, 'by-developer').map((cells) => cells[0]))
  t.same(section('operation').map((r) => [r.item, r.api, ...figures(r)]), tableRows(page, 'by-operation').map((cells) => [cells[0], cells[1], ...cells.slice(2).map(numberIn)]))
  t.same(section('status').map((r) => [r.item, r.calls, r.answered_by_backend, r.answered_by_gateway]), tableRows(page, 'by-status'))
  t.same(section('refused').map((r) => [r.item, r.developer, r.calls]), [['Missing key', 'No key, or an unknown key', '3']])
  t.equal(csv.headers['cache-control'], 'no-store')
  const developer = await signedInClient(app, DEV)
  t.equal((await developer.get(`/admin/analytics.csv?${query}`)).statusCode, 403, 'a developer: for administrators only')
  t.equal((await app.inject({ url: `/admin/analytics.csv?${query}` })).statusCode, 303, 'signed out: to the sign-in page')
  const bad = await admin.get('/admin/analytics.csv?from=someday')
  t.equal(bad.statusCode, 400, 'a range that cannot be read: the page with its message')
  t.match(bad.body, /Enter the first day as a date/)
})

t.test('a developer sees their own usage (page and CSV) and gets 404 for another\'s', async (t) => {
  const { app, world } = await setup(t)
  const developer = await signedInClient(app, DEV)
  const list = await developer.get('/subscriptions')
  t.match(list.body, `<a href="/subscriptions/${world.subscriptionId}/usage">`, 'the subscriptions list links to the usage page')
  const page = await developer.get(`/subscriptions/${world.subscriptionId}/usage?from=${D}&to=${D}`)
  t.equal(page.statusCode, 200)
  t.match(page.body, /<h1>Usage: Reading app<\/h1>/)
  t.match(page.body, /<li><strong>100<\/strong> calls<\/li>/, 'their keys\' calls (the three without a key are nobody\'s)')
  t.match(page.body, /<li><strong>470 ms<\/strong> p99<\/li>/)
  t.same(tableRows(page.body, 'by-operation').map((o) => o.slice(0, 3)), [['GET /items/{id}', 'Books', '88'], ['GET /slow', 'Books', '10'], ['GET /missing', 'Books', '2']])
  t.same(tableRows(page.body, 'by-api').map((o) => o.slice(0, 2)), [['Books', '100']])
  t.notMatch(page.body, /id="by-developer"|id="by-product"/, 'no table of who called')
  t.notMatch(page.body, /href="\/admin\//, 'no link into the publisher\'s pages')
  const csv = await developer.get(`/subscriptions/${world.subscriptionId}/usage.csv?from=${D}&to=${D}`)
  t.equal(csv.statusCode, 200)
  const rows: Array<Record<string, string>> = parse(csv.body, { columns: true, bom: true })
  t.equal(rows.find((r) => r.section === 'total')?.calls, '100')
  t.same(rows.filter((r) => r.section === 'operation').map((r) => [r.item, r.calls]), [['GET /items/{id}', '88'], ['GET /slow', '10'], ['GET /missing', '2']])
  t.equal(rows.filter((r) => r.section === 'developer' || r.section === 'product').length, 0)
  const defaults = await developer.get(`/subscriptions/${world.subscriptionId}/usage`)
  t.equal(defaults.statusCode, 200)
  t.equal(tableRows(defaults.body, 'by-period').length, 7, 'the last 7 days by default, per day')
  const bad = await developer.get(`/subscriptions/${world.subscriptionId}/usage?to=2026-02-30`)
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Enter the last day as a date/)
  t.match(bad.body, /value="2026-02-30"/, 'the input kept')

  await createDeveloper(app, { firstName: 'Other', lastName: 'Person', email: 'zed@example.org', password: 'a wholly different passphrase here' })
  const other = await signedInClient(app, { email: 'zed@example.org', password: 'a wholly different passphrase here' })
  for (const path of ['usage', 'usage.csv']) {
    t.equal((await other.get(`/subscriptions/${world.subscriptionId}/${path}`)).statusCode, 404, `another developer's ${path}: 404`)
    t.equal((await other.get(`/subscriptions/999999/${path}`)).statusCode, 404)
  }
  t.equal((await app.inject({ url: `/subscriptions/${world.subscriptionId}/usage` })).statusCode, 303, 'signed out: to the sign-in page')
})
