import t from 'tap'
import type { InjectOptions } from 'fastify'
import { ADMIN, createAdmin, createDeveloper, makeApp, signedInClient, type Client } from '../helpers'
import { LIBRARY_JSON, LIBRARY_YAML } from '../fixtures/openapi'
import { SYSTEM, startBackend } from '../fixtures/gateway'

// The management API's APIs, documents, products, usage and password-less users: each operation's
// success and bad input here (401 and 403 for every route are in management-api.test.ts).

async function tokenFor (admin: Client): Promise<string> {
  await admin.get('/admin/api-tokens')
  const res = await admin.post('/admin/api-tokens', { name: 'ci', expiresInDays: '' })
  const token = /<code>(ptk_[A-Za-z0-9_-]+)<\/code>/.exec(res.body)?.[1]
  if (token === undefined) throw new Error('no token')
  return token
}

async function world (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string> = {}) {
  const app = await makeApp(t, env)
  await createAdmin(app)
  const token = await tokenFor(await signedInClient(app, ADMIN))
  const call = async (method: InjectOptions['method'], url: string, payload?: object | string, contentType?: string) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` }
    if (contentType !== undefined) headers['content-type'] = contentType
    const res = await app.inject({ method, url: `/api/v1${url}`, payload, headers })
    return { status: res.statusCode, text: res.body, type: res.headers['content-type'], body: res.body !== '' && res.headers['content-type']?.toString().startsWith('application/json') === true ? JSON.parse(res.body) : null }
  }
  return { app, call }
}

const WEATHER = { name: 'Weather', path: 'weather', serviceUrl: 'https://backend.example/v1', description: 'Forecasts' }

t.test('APIs: create, list, get, update, delete, with the form\'s checks', async (t) => {
  const { app, call } = await world(t)
  const created = await call('POST', '/apis', WEATHER)
  t.equal(created.status, 201)
  t.match(created.body, { name: 'Weather', path: 'weather', serviceUrl: 'https://backend.example/v1', hasDocument: false, format: null })
  const id = created.body.id as number
  t.ok(await app.db('audit_events').where({ action: 'api.created', target_id: id }).first(), 'audited as from the page')

  const bad = await call('POST', '/apis', { name: ' ', path: 'Weather/', serviceUrl: 'ftp://x' })
  t.equal(bad.status, 400)
  t.match(bad.body.fields, { name: /Enter the API name/, path: /Use lower-case letters/, serviceUrl: /must start with http:\/\/ or https:\/\// })
  const taken = await call('POST', '/apis', { ...WEATHER, name: 'Other' })
  t.equal(taken.status, 409)
  t.match(taken.body.fields, { path: /Another API already uses this path/ })

  t.match((await call('GET', '/apis')).body, { total: 1, items: [{ id, name: 'Weather' }] })
  t.match((await call('GET', `/apis/${id}`)).body, { id, description: 'Forecasts' })
  const updated = await call('PUT', `/apis/${id}`, { ...WEATHER, name: 'Weather v2', serviceUrl: 'https://backend.example/v2' })
  t.equal(updated.status, 200)
  t.match(updated.body, { name: 'Weather v2', serviceUrl: 'https://backend.example/v2' })
  t.equal((await call('PUT', `/apis/${id}`, { ...WEATHER, serviceUrl: '' })).status, 400)
  t.equal((await call('DELETE', `/apis/${id}`)).status, 204)
  t.equal((await call('GET', `/apis/${id}`)).status, 404)
  t.equal((await call('DELETE', `/apis/${id}`)).status, 404)
})

t.test('publishing an API and its document from a script: JSON or YAML, the same validation as the form, 413 past OPENAPI_MAX_MB', async (t) => {
  const { call } = await world(t, { OPENAPI_MAX_MB: '1' })
  const { id } = (await call('POST', '/apis', WEATHER)).body as { id: number }
  t.equal((await call('GET', `/apis/${id}/openapi`)).status, 404, 'no document yet')

  const put = await call('PUT', `/apis/${id}/openapi`, LIBRARY_JSON, 'application/json')
  t.equal(put.status, 200)
  t.match(put.body, { id, hasDocument: true, format: 'json' })
  const got = await call('GET', `/apis/${id}/openapi`)
  t.equal(got.status, 200)
  t.match(got.type, /^application\/json/)
  t.equal(got.text, LIBRARY_JSON, 'the document as sent, byte for byte')

  t.equal((await call('PUT', `/apis/${id}/openapi`, LIBRARY_YAML, 'application/yaml')).status, 200)
  const yaml = await call('GET', `/apis/${id}/openapi`)
  t.match(yaml.type, /^application\/yaml/)
  t.equal(yaml.text, LIBRARY_YAML)

  const broken = 'openapi: 3.1.0\ninfo:\n  title: x\n  version: "1"\npaths:\n  /b:\n    post:\n      responsez: {}\n'
  const refused = await call('PUT', `/apis/${id}/openapi`, broken, 'application/yaml')
  t.equal(refused.status, 400)
  t.match(refused.body.fields, { openapi: /Line 8, at \/paths\/~1b\/post\/responsez: responsez is not expected to be here/ }, 'the form\'s message')
  t.equal((await call('GET', `/apis/${id}/openapi`)).text, LIBRARY_YAML, 'the document in place stays')
  t.equal((await call('PUT', `/apis/${id}/openapi`, '   ', 'application/yaml')).status, 400)
  const large = await call('PUT', `/apis/${id}/openapi`, `{"openapi":"3.1.0","x":"${'a'.repeat(1024 * 1024)}"}`, 'application/json')
  t.equal(large.status, 413)
  t.match(large.body, { statusCode: 413 })
  t.equal((await call('PUT', '/apis/9999/openapi', LIBRARY_JSON, 'application/json')).status, 404)
})

t.test('products: create, update, delete, and their APIs and groups', async (t) => {
  const { app, call } = await world(t)
  const { id: apiId } = (await call('POST', '/apis', WEATHER)).body as { id: number }
  const created = await call('POST', '/products', { name: 'Gold', description: 'For partners', state: 'published', quotaCalls: 1000, quotaPeriod: 'month', ipAllow: ['203.0.113.0/24'] })
  t.equal(created.status, 201)
  t.match(created.body, { name: 'Gold', state: 'published', quotaCalls: 1000, quotaPeriod: 'month', subscriptionRequired: true, approvalRequired: false, apis: [], groups: [] })
  const id = created.body.id as number
  t.equal((await app.db('products').where('id', id).first()).ip_allow, '203.0.113.0/24')

  const bad = await call('POST', '/products', { name: '', quotaCalls: 10 })
  t.equal(bad.status, 400)
  t.ok(bad.body.fields.name, 'name is required')
  t.ok(bad.body.fields.quotaPeriod ?? bad.body.fields.quotaCalls, 'a quota needs its period')
  t.equal((await call('POST', '/products', { name: 'gold' })).status, 409, 'the name is taken')

  const updated = await call('PUT', `/products/${id}`, { name: 'Gold plus', state: 'notPublished', approvalRequired: true })
  t.equal(updated.status, 200)
  t.match(updated.body, { name: 'Gold plus', state: 'notPublished', approvalRequired: true, quotaCalls: null })

  const linked = await call('PUT', `/products/${id}/apis/${apiId}`)
  t.equal(linked.status, 200)
  t.match(linked.body.apis, [{ id: apiId, name: 'Weather' }])
  t.equal((await call('PUT', `/products/${id}/apis/${apiId}`)).status, 409, 'already in it')
  t.equal((await call('PUT', `/products/${id}/apis/9999`)).status, 404)
  const partners = await app.services.groups.createGroup({ name: 'Partners', description: '' }, SYSTEM)
  const shown = await call('PUT', `/products/${id}/groups/${partners.id}`)
  t.equal(shown.status, 200)
  t.match(shown.body.groups, [{ id: partners.id, name: 'Partners' }])
  t.equal((await call('PUT', `/products/${id}/groups/9999`)).status, 404)
  t.equal((await call('PUT', `/products/${id}/groups/1`)).status, 409, 'Administrators see every product anyway')
  t.same((await call('DELETE', `/products/${id}/groups/${partners.id}`)).body.groups, [])
  t.same((await call('DELETE', `/products/${id}/apis/${apiId}`)).body.apis, [])

  const dev = await createDeveloper(app)
  await call('PUT', `/products/${id}`, { name: 'Gold plus', state: 'published' })
  await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: id, displayName: 'App' }, SYSTEM)
  const kept = await call('DELETE', `/products/${id}`)
  t.equal(kept.status, 409)
  t.match(kept.body.message, /has 1 live subscription/)
  t.equal((await call('DELETE', `/products/${id}?cancelSubscriptions=true`)).status, 204)
  t.equal((await call('GET', `/products/${id}`)).status, 404)
  t.ok(await app.db('audit_events').where({ action: 'product.deleted', target_id: id }).first())
})

t.test('usage: calls, errors, refusals and latency by day, filtered; a bad range is 400', async (t) => {
  const backend = await startBackend(t)
  const { app, call } = await world(t)
  const dev = await createDeveloper(app)
  const api = await app.services.apis.createApi({ name: 'Books', path: 'books', serviceUrl: `${backend.url}/v1`, description: '', openapi: '' }, SYSTEM)
  const product = await app.services.products.createProduct({ name: 'Reading', description: '', state: 'published', subscriptionRequired: true, approvalRequired: false, subscriptionsLimit: '', terms: '', rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: '', quotaPeriod: '' }, SYSTEM)
  await app.services.products.addApi(product.id, api.id, SYSTEM)
  const subscription = await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: 'App' }, SYSTEM)
  const key = (await app.services.subscriptions.listOwn(dev.id)).find((s) => s.id === subscription.id)?.keys.primary ?? ''
  for (const path of ['/books/a', '/books/b', '/books/c/missing']) await app.inject({ url: `/gateway${path}`, headers: { 'ocp-apim-subscription-key': key } })
  await app.inject({ url: '/gateway/books/d', headers: { 'ocp-apim-subscription-key': 'wrong' } })
  await app.services.gateway.flush()
  const today = new Date().toISOString().slice(0, 10)

  const usage = await call('GET', `/usage?from=${today}&to=${today}`)
  t.equal(usage.status, 200)
  t.match(usage.body, { from: today, to: today, total: { calls: 4, errors: 2, refused: 1 } })
  t.equal(usage.body.days.length, 1, 'one row a day, also for a range of one day')
  t.match(usage.body.days[0], { day: today, calls: 4, errors: 2, refused: 1 })
  t.type(usage.body.days[0].p50Ms, 'number', 'latency of the calls that reached the backend')
  const week = await call('GET', '/usage')
  t.equal(week.body.days.length, 7, 'the last 7 days by default')
  t.match((await call('GET', `/usage?product=${product.id}`)).body.total, { calls: 3 }, 'by product: the refused call had no product')
  t.match((await call('GET', `/usage?api=${api.id}`)).body.total, { calls: 4 }, 'by API: all four were to Books')
  t.match((await call('GET', '/usage?user=nobody')).body.total, { calls: 0 })
  const bad = await call('GET', '/usage?from=yesterday')
  t.equal(bad.status, 400)
  t.match(bad.body.fields, { from: /Enter the first day as a date/ })
})

t.test('POST /api/v1/users without a password: active, and mailed a single-use link to choose one', async (t) => {
  const { app, call } = await world(t)
  const created = await call('POST', '/users', { email: 'nopass@example.com', firstName: 'No', lastName: 'Pass' })
  t.equal(created.status, 201)
  t.match(created.body, { email: 'nopass@example.com', state: 'active', groups: [{ name: 'Developers' }] })
  const mail = await app.db('outbox_emails').where({ to_address: 'nopass@example.com' }).select('template')
  t.same(mail.map((m) => m.template), ['account-created'], 'the link to choose a password, not the welcome letter')
  t.equal((await app.db('developers').where('email', 'nopass@example.com').first()).password_hash, null, 'no password until chosen')
  const bad = await call('POST', '/users', { email: 'not-an-email', firstName: '', lastName: 'x' })
  t.equal(bad.status, 400)
  t.ok(bad.body.fields.email && bad.body.fields.firstName)
  t.equal((await call('POST', '/users', { email: 'NoPass@example.com', firstName: 'No', lastName: 'Pass' })).status, 409)
  const withPassword = await call('POST', '/users', { email: 'pass@example.com', firstName: 'With', lastName: 'Pass', password: 'short' })
  t.equal(withPassword.status, 400, 'a password given is checked as on the form')
  t.ok(withPassword.body.fields.password)
})

