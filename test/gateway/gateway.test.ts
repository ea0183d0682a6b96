import t from 'tap'
import { makeApp, makeConfig } from '../helpers'
import { TestClock } from '../clock'
import { buildApp, gatewayPaths } from '../../src/app'
import { productFor } from '../fixtures/catalog'
import { gatewayWorld, startBackend, SYSTEM, type Seen } from '../fixtures/gateway'
import { MESSAGES } from '../../src/services/gateway/gateway'

const MISSING = { statusCode: 401, message: 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.' }
const INVALID = { statusCode: 401, message: 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.' }

t.test('a call with a valid key is forwarded: method, path, query and body; the key never reaches the backend', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)

  const viaHeader = await app.inject({
    method: 'POST',
    url: '/gateway/books/shelves/3?sort=title&x=%20y',
    headers: { 'ocp-apim-subscription-key': world.primary, 'content-type': 'application/json', 'x-request-id': 'abc', cookie: 'portico_session=s%3Asecret; theme=dark', host: 'portal.example' },
    payload: '{"title":"Dune"}'
  })
  t.equal(viaHeader.statusCode, 200, viaHeader.body)
  const seen = viaHeader.json() as Seen
  t.equal(seen.method, 'POST')
  t.equal(seen.url, '/v1/shelves/3?sort=title&x=%20y', 'the rest of the path and the query, as sent')
  t.equal(seen.bytes, Buffer.byteLength('{"title":"Dune"}'))
  t.equal(seen.headers['x-request-id'], 'abc')
  t.equal(seen.headers['content-type'], 'application/json')
  t.equal(seen.headers['ocp-apim-subscription-key'], undefined, 'the key header is removed')
  t.equal(seen.headers.cookie, 'theme=dark', 'the portal\'s session cookie is not passed on')
  t.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
  t.equal(seen.headers['x-forwarded-host'], 'portal.example')
  t.equal(viaHeader.headers['content-security-policy'], 'sandbox', 'a backend\'s page cannot act as the portal')
  t.equal(viaHeader.headers['set-cookie'], undefined, 'no session for an API call')

  const hops = await app.inject({
    url: '/gateway/books/cookie',
    headers: { 'ocp-apim-subscription-key': world.primary, connection: 'keep-alive, x-hop', 'x-hop': 'private', 'keep-alive': 'timeout=5', te: 'trailers', 'proxy-authorization': 'Basic eA==' }
  })
  const seenHops = hops.json() as Seen
  for (const name of ['x-hop', 'keep-alive', 'te', 'proxy-authorization']) t.equal(seenHops.headers[name], undefined, `the hop-by-hop ${name} is not passed on`)
  t.same(hops.headers['set-cookie'], ['backend=1; Path=/'], 'a backend may set its cookies, never the portal\'s session cookie')
  t.equal(hops.headers['keep-alive'], undefined, 'nor does its keep-alive reach the caller')

  const viaQuery = await app.inject({ method: 'GET', url: `/gateway/books/search?q=a&subscription-key=${world.secondary}&page=2` })
  t.equal(viaQuery.statusCode, 200, 'the secondary key works too, in the query')
  t.equal((viaQuery.json() as Seen).url, '/v1/search?q=a&page=2', 'the key is removed from the query')
  t.equal(await app.db('sessions').count({ n: '*' }).first().then((r) => Number(r?.n)), 0, 'the sessions table is never touched')
})

t.test('the contract\'s errors, in its order, with their JSON bodies', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)

  const noApi = await app.inject('/gateway/nothing-here/x')
  t.equal(noApi.statusCode, 404)
  t.same(noApi.json(), { statusCode: 404, message: MESSAGES.noApi })
  t.equal((await app.inject({ url: '/gateway/nothing-here', headers: { 'ocp-apim-subscription-key': 'bad' } })).statusCode, 404, 'no API comes before a bad key')

  const missing = await app.inject('/gateway/books/x')
  t.equal(missing.statusCode, 401)
  t.same(missing.json(), MISSING)
  t.same((await app.inject({ url: '/gateway/books/x?subscription-key=', headers: { 'ocp-apim-subscription-key': '' } })).json(), MISSING, 'an empty key is a missing one')
  t.match(missing.headers['content-type'], /^application\/json/)

  const unknown = await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': 'f'.repeat(32) } })
  t.equal(unknown.statusCode, 401)
  t.same(unknown.json(), INVALID)
  t.same((await app.inject('/gateway/books/x?subscription-key=nope')).json(), INVALID, 'an unknown key in the query')

  // A key of a product that does not hold this API.
  const other = await app.services.apis.createApi({ name: 'Maps', path: 'maps/v2', serviceUrl: `${backend.url}/maps`, description: '', openapi: '' }, SYSTEM)
  t.same((await app.inject({ url: '/gateway/maps/v2/tiles', headers: { 'ocp-apim-subscription-key': world.primary } })).json(), INVALID, 'the API is not in the key\'s product')
  t.equal(backend.seen.length, 0, 'nothing refused reached the backend')
  t.ok(other.id > 0)
})

t.test('rate limit: 429 with Retry-After in the reference product\'s words; quota: 403 with the time until it renews', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url, { rateLimitCalls: '2', rateLimitPeriod: '60', quotaCalls: '3', quotaPeriod: 'day' })
  const call = async () => await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': world.primary } })
  t.equal((await call()).statusCode, 200)
  t.equal((await call()).statusCode, 200)
  const limited = await call()
  t.equal(limited.statusCode, 429)
  const wait = Number(limited.headers['retry-after'])
  t.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`)
  t.same(limited.json(), { statusCode: 429, message: `Rate limit is exceeded. Try again in ${wait} seconds.` })
  t.equal(backend.seen.length, 2)
})

t.test('quota: 403 once the period\'s calls are used, saying when it renews; it holds across a restart', async (t) => {
  const backend = await startBackend(t)
  const config = await makeConfig(t)
  const clock = new TestClock()
  clock.set(new Date('2026-11-26T22:00:00Z'))
  let app = await buildApp(config, { clock })
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '3', quotaPeriod: 'day' })
  const call = async () => await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': world.primary } })
  t.equal((await call()).statusCode, 200)
  t.equal((await call()).statusCode, 200)
  await app.close() // the count is written on close
  app = await buildApp(config, { clock })
  t.teardown(async () => await app.close())
  t.equal((await call()).statusCode, 200, 'the third call of the day, after a restart')
  const out = await call()
  t.equal(out.statusCode, 403)
  t.match(out.json(), { statusCode: 403, message: /^Out of call volume quota\. Quota will be replenished in 0[12]:[0-5]\d:[0-5]\d\.$/ }, 'about two hours to midnight')
  clock.set(new Date('2026-11-27T00:00:01Z'))
  t.equal((await call()).statusCode, 200, 'a new day, a new quota')
  await app.services.gateway.flush()
  const rows = await app.db('quota_usage').where('subscription_id', world.subscriptionId).orderBy('period_start').select('period_start', 'calls')
  t.same(rows.map((r) => [r.period_start, Number(r.calls)]), [['2026-11-26T00:00:00.000Z', 3], ['2026-11-27T00:00:00.000Z', 1]])
})

t.test('every change that ends a key is refused on the very next call', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const call = async (key = world.primary, path = '/gateway/books/x') => (await app.inject({ url: path, headers: { 'ocp-apim-subscription-key': key } })).statusCode
  const svc = app.services
  const admin = { id: world.admin.id, label: world.admin.email, ip: null }
  const second = async (name: string) => {
    const s = await svc.subscriptions.subscribeOnBehalf(world.dev.id, { productId: world.productId, displayName: name }, SYSTEM)
    const [own] = (await svc.subscriptions.listOwn(world.dev.id)).filter((o) => o.id === s.id)
    return { id: s.id, key: own.keys.primary ?? '' }
  }

  t.equal(await call(), 200, 'the key works (and is now cached)')
  await svc.accounts.blockAccount(world.dev.id, admin)
  t.equal(await call(), 401, 'owner blocked')
  await svc.accounts.activateAccount(world.dev.id, admin)
  t.equal(await call(), 200, 'owner active again: the key works again')

  await svc.subscriptions.changeState(world.subscriptionId, 'suspend', admin)
  t.equal(await call(), 401, 'subscription suspended')
  await svc.subscriptions.changeState(world.subscriptionId, 'activate', admin)
  t.equal(await call(), 200, 'reactivated')

  t.equal(await call(world.secondary), 200)
  await svc.subscriptions.regenerateKey(world.dev.id, world.subscriptionId, 'secondary', { id: world.dev.id, label: world.dev.email, ip: null })
  t.equal(await call(world.secondary), 401, 'old secondary key after regeneration')
  t.equal(await call(), 200, 'the primary key is untouched')
  const [fresh] = (await svc.subscriptions.listOwn(world.dev.id)).filter((o) => o.id === world.subscriptionId)
  t.equal(await call(fresh.keys.secondary ?? ''), 200, 'the new secondary key works at once')

  const cancelled = await second('to cancel')
  t.equal(await call(cancelled.key), 200)
  await svc.subscriptions.cancelOwn(world.dev.id, cancelled.id, { id: world.dev.id, label: world.dev.email, ip: null })
  t.equal(await call(cancelled.key), 401, 'cancelled by its owner')
  const byAdmin = await second('admin cancels')
  t.equal(await call(byAdmin.key), 200)
  await svc.subscriptions.changeState(byAdmin.id, 'cancel', admin)
  t.equal(await call(byAdmin.key), 401, 'cancelled by an administrator')

  await svc.products.setState(world.productId, 'notPublished', admin)
  t.equal(await call(), 401, 'product unpublished')
  await svc.products.setState(world.productId, 'published', admin)
  t.equal(await call(), 200)
  await svc.products.removeApi(world.productId, world.apiId, admin)
  t.equal(await call(), 401, 'API removed from the product')
  await svc.products.addApi(world.productId, world.apiId, admin)
  t.equal(await call(), 200)

  await app.db('subscriptions').where('id', world.subscriptionId).update({ expires_at: '2000-01-01T00:00:00.000Z' })
  app.services.gateway.invalidate()
  t.equal(await call(), 401, 'an expiry date that has passed')
  await app.db('subscriptions').where('id', world.subscriptionId).update({ expires_at: null })
  app.services.gateway.invalidate()

  await svc.apis.updateApi(world.apiId, { name: 'Books', path: 'library', serviceUrl: `${backend.url}/v1`, description: '', openapi: '' }, admin)
  t.equal(await call(), 404, 'the API\'s old path is gone at once')
  t.equal(await call(world.primary, '/gateway/library/x'), 200, 'and its new one works')

  await svc.accounts.deleteAccount(world.dev.id, admin)
  t.equal(await call(world.primary, '/gateway/library/x'), 401, 'owner deleted')
})

t.test('approval: a submitted subscription\'s key is refused until approved; a rejected one stays refused', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url, { approvalRequired: true })
  const admin = { id: world.admin.id, label: world.admin.email, ip: null }
  const developer = { ...world.dev, isAdmin: false }
  const ask = async (name: string) => {
    const s = await app.services.subscriptions.subscribe(developer, world.productId, { displayName: name, acceptTerms: true }, null)
    const [own] = (await app.services.subscriptions.listOwn(world.dev.id)).filter((o) => o.id === s.id)
    return { id: s.id, key: own.keys.primary ?? '' }
  }
  const call = async (key: string) => (await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': key } })).statusCode
  const approved = await ask('approve me')
  t.equal(await call(approved.key), 401, 'submitted')
  await app.services.subscriptions.changeState(approved.id, 'approve', admin)
  t.equal(await call(approved.key), 200, 'approved: the very next call passes')
  const rejected = await ask('reject me')
  t.equal(await call(rejected.key), 401)
  await app.services.subscriptions.changeState(rejected.id, 'reject', admin, 'no')
  t.equal(await call(rejected.key), 401, 'rejected')
})

t.test('a product that needs no subscription lets calls through without a key; a bad key is still refused', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const open = await app.services.apis.createApi({ name: 'Weather', path: 'weather', serviceUrl: backend.url, description: '', openapi: '' }, SYSTEM)
  const product = await productFor(app, SYSTEM, { name: 'Open data', subscriptionRequired: false }, [open.id])
  const res = await app.inject('/gateway/weather/today')
  t.equal(res.statusCode, 200)
  t.equal((res.json() as Seen).url, '/today')
  t.equal((await app.inject({ url: '/gateway/weather/today', headers: { 'ocp-apim-subscription-key': 'wrong' } })).statusCode, 401)
  await app.services.products.setState(product.id, 'notPublished', SYSTEM)
  t.same((await app.inject('/gateway/weather/today')).json(), MISSING, 'unpublished: a key is needed again')
  t.ok(world.primary)
})

t.test('bad paths get 400; a backend down is 502 and a slow one 504, the gateway stays up', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, {}, { gatewayTimeoutMs: 300 })
  const world = await gatewayWorld(app, backend.url)
  const headers = { 'ocp-apim-subscription-key': world.primary }
  // (A dot segment sent as is, or escaped, is resolved by the URL parser before routing: it names no API.)
  for (const path of ['/gateway/books/../admin', '/gateway/books/%2e%2e/admin']) t.equal((await app.inject({ url: path, headers })).statusCode, 404, path)
  for (const path of ['/gateway/books/a/%2E%2E%2Fb', '/gateway/books/%E0%A4%A']) {
    const res = await app.inject({ url: path, headers })
    t.equal(res.statusCode, 400, `${path}: ${res.body}`)
    t.equal(res.json().statusCode, 400)
  }
  t.equal(backend.seen.length, 0, 'none of them reached the backend')

  const slow = await app.inject({ url: '/gateway/books/slow?ms=2000', headers })
  t.equal(slow.statusCode, 504)
  t.same(slow.json(), { statusCode: 504, message: 'The API\'s backend did not answer in time.' })

  const down = await app.services.apis.createApi({ name: 'Down', path: 'down', serviceUrl: 'http://127.0.0.1:9', description: '', openapi: '' }, SYSTEM)
  await app.services.products.addApi(world.productId, down.id, SYSTEM)
  const refused = await app.inject({ url: '/gateway/down/x', headers })
  t.equal(refused.statusCode, 502)
  t.same(refused.json(), { statusCode: 502, message: 'The API\'s backend could not be reached.' })
  t.equal((await app.inject({ url: '/gateway/books/x', headers })).statusCode, 200, 'still serving')
  const missing = await app.inject({ url: '/gateway/books/missing', headers })
  t.equal(missing.statusCode, 404, 'a backend\'s own 404 is passed on')
  t.equal((missing.json() as Seen).url, '/v1/missing')

  await app.services.gateway.flush()
  const rows = await app.db('gateway_usage').where('subscription_id', world.subscriptionId).select('outcome', 'status_class', 'calls')
  const count = (outcome: string, cls: number) => rows.filter((r) => r.outcome === outcome && Number(r.status_class) === cls).reduce((n, r) => n + Number(r.calls), 0)
  t.equal(count('backend-timeout', 5), 1, '504 counted as 5xx')
  t.equal(count('backend-unreachable', 5), 1, '502 counted as 5xx')
  t.equal(count('forwarded', 2), 1)
  t.equal(count('forwarded', 4), 1)
  const badPaths = await app.db('gateway_usage').where({ outcome: 'bad-path', status_class: 4 }).sum({ n: 'calls' }).first()
  t.equal(Number(badPaths?.n), 1, 'a bad path is counted too (a malformed escape is refused by the router itself)')
})

t.test('usage: every call counted by subscription, API, hour, status class and outcome, refusals by reason; 90% of a quota mails the owner once', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '10', quotaPeriod: 'month' })
  const call = async (key: string | null) => await app.inject({ url: '/gateway/books/x', headers: key === null ? {} : { 'ocp-apim-subscription-key': key } })
  for (let i = 0; i < 8; i++) await call(world.primary)
  await call(null)
  await call('unknown-key')
  await app.services.gateway.flush()
  t.equal(await app.db('outbox_emails').where('template', 'quota-approaching').count({ n: '*' }).first().then((r) => Number(r?.n)), 0, 'not yet at 90%')
  await call(world.primary)
  await app.services.gateway.flush()
  await call(world.primary)
  await app.services.gateway.flush()
  const mails = await app.db('outbox_emails').where('template', 'quota-approaching').select('to_address', 'text_body')
  t.equal(mails.length, 1, 'one email, though two flushes passed 90%')
  t.equal(mails[0].to_address, world.dev.email)
  t.match(mails[0].text_body, /10/)
  t.equal((await call(world.primary)).statusCode, 403, 'the eleventh call of the month')
  await app.services.gateway.flush()
  const rows = await app.db('gateway_usage').select('api_id', 'subscription_id', 'developer_id', 'product_id', 'status_class', 'outcome', 'calls', 'latency_ms')
  const find = (outcome: string) => rows.filter((r) => r.outcome === outcome)
  t.same(find('forwarded').map((r) => [Number(r.api_id), Number(r.subscription_id), Number(r.developer_id), Number(r.product_id), Number(r.status_class), Number(r.calls)]),
    [[world.apiId, world.subscriptionId, world.dev.id, world.productId, 2, 10]])
  t.same(find('missing-key').map((r) => [Number(r.subscription_id), Number(r.status_class), Number(r.calls)]), [[0, 4, 1]])
  t.same(find('invalid-key').map((r) => Number(r.calls)), [1])
  t.same(find('quota-exceeded').map((r) => [Number(r.subscription_id), Number(r.calls)]), [[world.subscriptionId, 1]])
  t.ok(Number(find('forwarded')[0].latency_ms) >= 0)
})

t.test('usage that cannot be written is kept and added to what is counted next: no call lost', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const call = async (path: string): Promise<number> => (await app.inject({ url: `/gateway/books/${path}`, headers: { 'ocp-apim-subscription-key': world.primary } })).statusCode
  // The table out of reach: every write fails (the gateway logs it and keeps its counts).
  await app.db.schema.renameTable('gateway_usage', 'gateway_usage_away')
  t.same([await call('x'), await call('x'), await call('missing')], [200, 200, 404])
  await app.services.gateway.flush()
  t.same([await call('x'), await call('missing')], [200, 404], 'counted after the failed write')
  await app.db.schema.renameTable('gateway_usage_away', 'gateway_usage')
  await app.services.gateway.flush()
  const rows = await app.db('gateway_usage').where({ subscription_id: world.subscriptionId }).orderBy('status').select('status', 'outcome', 'calls')
  t.same(rows.map((r) => [Number(r.status), r.outcome, Number(r.calls)]), [[200, 'forwarded', 3], [404, 'forwarded', 2]], 'one row per status, every call in it')
})

t.test('the gateway is served under GATEWAY_URL\'s path; at a host\'s root, under /gateway in the portal\'s server', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, { GATEWAY_URL: 'https://api.example.com/calls/' })
  const world = await gatewayWorld(app, backend.url)
  const headers = { 'ocp-apim-subscription-key': world.primary }
  const res = await app.inject({ url: '/calls/books/x?a=1', headers })
  t.equal(res.statusCode, 200)
  t.equal((res.json() as Seen).url, '/v1/x?a=1')
  t.equal((await app.inject({ url: '/gateway/books/x', headers })).statusCode, 404, 'not also under /gateway')
  t.same(gatewayPaths(await makeConfig(t, { GATEWAY_URL: 'https://api.example.com' })), { portal: '/gateway', own: '' })
  t.same(gatewayPaths(app.config), { portal: '/calls', own: '/calls' })
})
