import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../src/app'
import { loggerOptions } from '../../src/logging'
import { productInput } from '../../src/services/catalog/products'
import { ADMIN, DEV, makeApp, makeConfig, signedInClient } from '../helpers'
import { parse as parseYaml } from 'yaml'
import { validate } from '@readme/openapi-parser'
import { SYSTEM, gatewayWorld, startBackend } from '../fixtures/gateway'
import { PETSTORE_JSON } from '../fixtures/openapi'
import { startSecondInstance } from '../fixtures/instance'
import type { ApiPolicyInput } from '../../src/services/gateway/policies'

// Each gateway policy with a real recording backend: what reaches the backend, what the caller gets.

const NONE: ApiPolicyInput = { corsOrigins: '', corsHeaders: '', keyHeader: '', keyQuery: '', backendHeaders: '', backendQuery: '', backendClear: false, suppliedSchemes: '', timeoutSeconds: '', mock: false }
const APP = 'https://app.example.com'
const SECRET = 'backend-s3cret-value-0042'
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('CORS: a preflight is answered by the gateway (allowed origin) or refused (other origin), never forwarded; answers carry the headers', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const preflight = async (origin: string) => await app.inject({
    method: 'OPTIONS', url: '/gateway/books/items', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'ocp-apim-subscription-key, content-type' }
  })

  t.equal((await preflight(APP)).statusCode, 401, 'without a CORS policy a preflight is a call like any other (no key: 401)')
  await app.services.apis.setPolicy(world.apiId, { ...NONE, corsOrigins: `${APP}\nhttp://localhost:5173`, corsHeaders: 'X-Request-Id' }, SYSTEM)
  const allowed = await preflight(APP)
  t.equal(allowed.statusCode, 204)
  t.equal(allowed.headers['access-control-allow-origin'], APP)
  t.match(allowed.headers['access-control-allow-methods'], /POST/)
  t.equal(allowed.headers['access-control-allow-headers'], 'ocp-apim-subscription-key, content-type, x-request-id', 'the key header is always allowed')
  t.equal(allowed.headers['access-control-max-age'], '3600')
  t.equal(allowed.headers['access-control-allow-credentials'], undefined, 'credentials never')
  t.equal(allowed.headers.vary, 'Origin')
  const refused = await preflight('https://evil.example')
  t.equal(refused.statusCode, 403)
  t.equal(refused.headers['access-control-allow-origin'], undefined, 'another origin gets no CORS headers')
  t.match(refused.json(), { statusCode: 403, message: /origin may not call this API/ })
  t.equal(backend.seen.length, 0, 'the backend never saw a preflight')

  const call = await app.inject({ url: '/gateway/books/items', headers: { origin: APP, 'ocp-apim-subscription-key': world.primary } })
  t.equal(call.statusCode, 200)
  t.equal(call.headers['access-control-allow-origin'], APP, 'an actual call from an allowed origin carries the origin')
  t.match(call.headers.vary, /Origin/)
  const other = await app.inject({ url: '/gateway/books/items', headers: { origin: 'https://evil.example', 'ocp-apim-subscription-key': world.primary } })
  t.equal(other.statusCode, 200, 'CORS is the browser\'s rule: the call itself is served')
  t.equal(other.headers['access-control-allow-origin'], undefined)
  t.match(other.headers.vary, /Origin/)
  const noKey = await app.inject({ url: '/gateway/books/items', headers: { origin: APP } })
  t.equal(noKey.statusCode, 401)
  t.equal(noKey.headers['access-control-allow-origin'], APP, 'the gateway\'s own refusal is readable by the browser app')
  t.equal(backend.seen.length, 2, 'only the two keyed calls reached the backend')
})

t.test('key names: a renamed header and query parameter work, the default ones no longer do; neither reaches the backend', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  await app.services.apis.setPolicy(world.apiId, { ...NONE, keyHeader: 'X-Api-Key', keyQuery: 'api-key' }, SYSTEM)
  const byHeader = await app.inject({ url: '/gateway/books/items', headers: { 'x-api-key': world.primary } })
  t.equal(byHeader.statusCode, 200)
  t.equal(backend.seen[0].headers['x-api-key'], undefined, 'the renamed header is taken out')
  const byQuery = await app.inject({ url: `/gateway/books/items?a=1&api-key=${world.primary}` })
  t.equal(byQuery.statusCode, 200)
  t.equal(backend.seen[1].url, '/v1/items?a=1', 'the renamed parameter is taken out')
  t.equal((await app.inject({ url: '/gateway/books/items', headers: { 'ocp-apim-subscription-key': world.primary } })).statusCode, 401, 'the old header is refused')
  t.equal((await app.inject({ url: `/gateway/books/items?subscription-key=${world.primary}` })).statusCode, 401, 'the old parameter too')
  t.equal(backend.seen.length, 2)
})

t.test('the gateway document follows the key names and leaves out supplied schemes, in JSON and YAML, and comes back whole when they go back', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const api = await app.services.apis.findApi(world.apiId)
  await app.services.apis.updateApi(world.apiId, { name: api.name, path: api.path, serviceUrl: api.serviceUrl, description: '', openapi: PETSTORE_JSON }, SYSTEM)
  const developer = await signedInClient(app, DEV)
  type Doc = { components: { securitySchemes: Record<string, { name?: string }> }, paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>> }
  const download = async (kind: 'json' | 'yaml'): Promise<Doc> => {
    const answer = await developer.get(`/apis/${world.apiId}/openapi.${kind}`)
    t.equal(answer.statusCode, 200)
    return kind === 'json' ? JSON.parse(answer.body) : parseYaml(answer.body)
  }
  const requirements = (doc: Doc) => Object.values(doc.paths).flatMap((item) => Object.values(item).flatMap((op) => op.security ?? [])).flatMap((r) => Object.keys(r))
  const before = await download('json')
  t.equal(before.components.securitySchemes.subscriptionKey.name, 'Ocp-Apim-Subscription-Key')
  t.ok(requirements(before).includes('api_key'), 'the document\'s own api_key scheme is asked for')
  t.same(await download('yaml'), before)

  await app.services.apis.setPolicy(world.apiId, { ...NONE, keyHeader: 'X-Api-Key', keyQuery: 'api-key', suppliedSchemes: 'api_key' }, SYSTEM)
  // Counted on the way through (the real worker still does the work).
  const workers = app.services.documentWorkers
  const remake = workers.gateway
  let remakes = 0
  workers.gateway = async (...args) => { remakes++; return await remake(...args) }
  const burst = await Promise.all(Array.from({ length: 5 }, async () => await developer.get(`/apis/${world.apiId}/openapi.json`)))
  t.equal(new Set(burst.map((r) => r.body)).size, 1, 'five downloads at once get the same document')
  t.equal(remakes, 1, 'remade once for all of them')
  for (const kind of ['json', 'yaml'] as const) {
    const doc = await download(kind)
    t.equal(doc.components.securitySchemes.subscriptionKey.name, 'X-Api-Key', `${kind}: the header named as the gateway takes it`)
    t.equal(doc.components.securitySchemes.subscriptionKeyQuery.name, 'api-key')
    t.notOk('api_key' in doc.components.securitySchemes, `${kind}: the supplied scheme is gone`)
    t.notOk(requirements(doc).includes('api_key'), `${kind}: no operation asks for it`)
    t.ok(requirements(doc).includes('petstore_auth'), `${kind}: the other schemes stay`)
    const result = await validate(structuredClone(doc) as unknown as Parameters<typeof validate>[0])
    t.ok(result.valid, `${kind}: still a valid document`)
  }
  t.equal(remakes, 1, 'and kept: later downloads read it')
  await app.services.apis.setPolicy(world.apiId, NONE, SYSTEM)
  t.same(await download('json'), before, 'back to the defaults: the document as it was, supplied scheme and all')
  t.same(await download('yaml'), before)
})

t.test('backend credentials: added to every forwarded call, sealed at rest, never in a page, the audit log, a log line or analytics', async (t) => {
  const backend = await startBackend(t)
  const logs: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { logs.push(String(chunk)); done() } })
  const app = await buildApp(await makeConfig(t), { logger: { ...loggerOptions('debug'), stream } })
  t.teardown(async () => await app.close())
  const world = await gatewayWorld(app, backend.url)
  const admin = await signedInClient(app, ADMIN)
  await admin.get(`/admin/apis/${world.apiId}`)
  const saved = await admin.post(`/admin/apis/${world.apiId}/gateway`, {
    corsOrigins: '', corsHeaders: '', keyHeader: '', keyQuery: '', backendHeaders: `X-Backend-Token: ${SECRET}`, backendQuery: `api_key=${SECRET}`, suppliedSchemes: 'api_key', timeoutSeconds: ''
  })
  t.equal(saved.statusCode, 303)
  const call = await app.inject({ url: '/gateway/books/items?q=1', headers: { 'ocp-apim-subscription-key': world.primary, 'x-backend-token': 'forged by the caller' } })
  t.equal(call.statusCode, 200)
  t.equal(backend.seen[0].headers['x-backend-token'], SECRET, 'the header, over the caller\'s own')
  t.equal(backend.seen[0].url, `/v1/items?q=1&api_key=${SECRET}`, 'the query parameter')
  // (This recording backend echoes the request it got in its body: that is the backend's choice.)
  t.notMatch(JSON.stringify(call.headers), SECRET, 'no answer header from the gateway carries it')

  const page = await admin.get(`/admin/apis/${world.apiId}`)
  t.match(page.body, /X-Backend-Token \(header\), api_key \(query\): set/i, 'the page names them')
  t.notMatch(page.body, SECRET, 'and never shows a value')
  const stored = await app.db('apis').where('id', world.apiId).first('backend_secrets')
  t.notMatch(stored.backend_secrets, SECRET, 'sealed at rest')
  const audit = await app.db('audit_events').where('action', 'api.policy-changed').first()
  t.match(audit.details, /"state":"set"/)
  t.notMatch(audit.details, SECRET, 'the audit row names what changed, not the value')
  await app.services.gateway.flush()
  const usage = JSON.stringify(await app.db('gateway_usage').select())
  t.notMatch(usage, SECRET)
  t.notMatch(logs.join(''), SECRET, 'no log line holds it')
  for (const path of ['/admin/analytics', `/admin/apis/${world.apiId}/reference`, '/admin/audit']) t.notMatch((await admin.get(path)).body, SECRET, `${path} never shows it`)

  // Blank keeps them; remove clears them.
  await admin.post(`/admin/apis/${world.apiId}/gateway`, { corsOrigins: '', corsHeaders: '', keyHeader: '', keyQuery: '', backendHeaders: '', backendQuery: '', suppliedSchemes: '', timeoutSeconds: '' })
  await app.inject({ url: '/gateway/books/items', headers: { 'ocp-apim-subscription-key': world.primary } })
  t.equal(backend.seen[1].headers['x-backend-token'], SECRET, 'a save with the fields blank keeps them')
  await admin.post(`/admin/apis/${world.apiId}/gateway`, { corsOrigins: '', corsHeaders: '', keyHeader: '', keyQuery: '', backendHeaders: '', backendQuery: '', backendClear: 'on', suppliedSchemes: '', timeoutSeconds: '' })
  await app.inject({ url: '/gateway/books/items', headers: { 'ocp-apim-subscription-key': world.primary } })
  t.equal(backend.seen[2].headers['x-backend-token'], undefined, 'removed')
  t.equal(backend.seen[2].url, '/v1/items')
})

t.test('the policy form: bad fields are refused beside the field with the input kept, credentials never written back', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const admin = await signedInClient(app, ADMIN)
  await admin.get(`/admin/apis/${world.apiId}`)
  const res = await admin.post(`/admin/apis/${world.apiId}/gateway`, {
    corsOrigins: 'https://app.example.com/path', corsHeaders: '', keyHeader: 'X-Api-Key', keyQuery: '', backendHeaders: `Bad line ${SECRET}`, backendQuery: '', suppliedSchemes: '', timeoutSeconds: '999'
  })
  t.equal(res.statusCode, 400)
  t.match(res.body, /is not an origin/)
  t.match(res.body, /Each line is Name: value/)
  t.match(res.body, /from 1 to 240/)
  t.match(res.body, /value="X-Api-Key"/, 'the other input kept')
  t.notMatch(res.body, SECRET, 'a credential is never written back')
  t.equal((await app.db('apis').where('id', world.apiId).first('key_header')).key_header, null, 'nothing saved')
  const developer = await signedInClient(app, { email: 'dev@example.com', password: 'a long and quiet river bend' })
  t.equal((await developer.post(`/admin/apis/${world.apiId}/gateway`, { corsOrigins: '' })).statusCode, 403, 'administrators only')
})

t.test('backend timeout: 504 after the API\'s own timeout', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  await app.services.apis.setPolicy(world.apiId, { ...NONE, timeoutSeconds: '1', corsOrigins: APP }, SYSTEM)
  const started = Date.now()
  const res = await app.inject({ url: '/gateway/books/slow?ms=3000', headers: { 'ocp-apim-subscription-key': world.primary, origin: APP } })
  t.equal(res.statusCode, 504)
  t.match(res.json(), { message: /did not answer in time/ })
  t.equal(res.headers['access-control-allow-origin'], APP, 'the gateway\'s 504 is readable by the browser app')
  t.equal(res.headers.vary, 'Origin')
  t.ok(Date.now() - started < 2900, 'answered before the backend would have')
  t.equal((await app.inject({ url: '/gateway/books/slow?ms=200', headers: { 'ocp-apim-subscription-key': world.primary } })).statusCode, 200, 'a quicker answer passes')
  await app.services.gateway.flush()
  const today = new Date().toISOString().slice(0, 10)
  const { statuses } = await app.services.usage.report({ from: today, to: today })
  t.same(statuses.map((s) => [s.status, s.backend, s.gateway]), [[200, 1, 0], [504, 0, 1]], 'the 504 is the gateway\'s answer, not the backend\'s')
})

t.test('mock answers: a matched operation answers its first 2xx example, an unmatched path 404, the backend never called', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const api = await app.services.apis.findApi(world.apiId)
  await t.rejects(app.services.apis.setPolicy(world.apiId, { ...NONE, mock: true }, SYSTEM), { statusCode: 400, message: /no OpenAPI document/ })
  await app.services.apis.updateApi(world.apiId, { name: api.name, path: api.path, serviceUrl: api.serviceUrl, description: '', openapi: PETSTORE_JSON }, SYSTEM)
  await app.services.apis.setPolicy(world.apiId, { ...NONE, mock: true, corsOrigins: APP }, SYSTEM)
  const key = { 'ocp-apim-subscription-key': world.primary }
  const pet = await app.inject({ url: '/gateway/books/pet/10', headers: { ...key, origin: APP } })
  t.equal(pet.statusCode, 200)
  t.equal(pet.headers['access-control-allow-origin'], APP, 'a mock answer carries the API\'s CORS headers')
  t.match(pet.headers['content-type'], /application\/json/)
  t.match(pet.json(), { id: 10, name: 'doggie' }, 'the example drawn from the document')
  const created = await app.inject({ method: 'POST', url: '/gateway/books/pet', headers: { ...key, 'content-type': 'application/json' }, payload: '{"name":"rex"}' })
  t.ok(created.statusCode >= 200 && created.statusCode < 300, `POST /pet answers its 2xx (${created.statusCode})`)
  const unmatched = await app.inject({ url: '/gateway/books/no/such/path', headers: key })
  t.equal(unmatched.statusCode, 404)
  t.match(unmatched.json(), { statusCode: 404, message: /No operation of this API/ })
  t.equal((await app.inject({ url: '/gateway/books/pet/10' })).statusCode, 401, 'keys still apply')
  t.equal(backend.seen.length, 0, 'the backend was never called')
  await app.services.gateway.flush()
  t.ok(await app.db('gateway_usage').where('outcome', 'mocked').first(), 'counted as mocked')
  await app.services.apis.setPolicy(world.apiId, { ...NONE, mock: false }, SYSTEM)
  t.equal((await app.inject({ url: '/gateway/books/pet/10', headers: key })).statusCode, 200)
  t.equal(backend.seen.length, 1, 'mock off: the backend again')
})

t.test('IP filter: a key of the product used from another address is refused, also behind a trusted proxy with a spoofed X-Forwarded-For', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, { TRUST_PROXY: '127.0.0.1' })
  const world = await gatewayWorld(app, backend.url, { ipAllow: '203.0.113.0/24' })
  const call = async (headers: Record<string, string>, remoteAddress = '127.0.0.1') =>
    await app.inject({ url: '/gateway/books/items', remoteAddress, headers: { 'ocp-apim-subscription-key': world.primary, ...headers } })
  t.equal((await call({ 'x-forwarded-for': '203.0.113.9' })).statusCode, 200, 'a client in the range, through the trusted proxy')
  const outside = await call({ 'x-forwarded-for': '198.51.100.4' })
  t.equal(outside.statusCode, 403)
  t.same(outside.json(), { statusCode: 403, message: 'Caller IP address 198.51.100.4 is not allowed to call this API.' })
  const spoofed = await call({ 'x-forwarded-for': '203.0.113.9' }, '192.0.2.50')
  t.equal(spoofed.statusCode, 403, 'an untrusted peer claiming an allowed address is judged by its own address')
  t.match(spoofed.json(), { message: /192\.0\.2\.50 is not allowed/ })
  t.equal(backend.seen.length, 1, 'refused calls never reach the backend')
  await app.services.gateway.flush()
  t.ok(await app.db('gateway_usage').where('outcome', 'ip-refused').first(), 'counted as refused by address')
})

t.test('each policy change is seen by a second instance within a second', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const other = await startSecondInstance(t, app.config)
  const callOther = async (headers: Record<string, string>) => (await fetch(`${other.gatewayUrl}/books/items`, { headers })).status
  t.equal(await callOther({ 'ocp-apim-subscription-key': world.primary }), 200, 'warm: the other instance has the API and the key in memory')

  async function seenWithin (change: () => Promise<unknown>, holds: () => Promise<boolean>): Promise<number> {
    await change()
    const started = Date.now()
    while (!(await holds())) {
      if (Date.now() - started > 5000) return Infinity
      await sleep(20)
    }
    return Date.now() - started
  }
  const renamed = await seenWithin(async () => await app.services.apis.setPolicy(world.apiId, { ...NONE, keyHeader: 'X-Api-Key' }, SYSTEM),
    async () => await callOther({ 'x-api-key': world.primary }) === 200)
  t.ok(renamed <= 1000, `key header renamed: seen after ${renamed} ms`)
  const cors = await seenWithin(async () => await app.services.apis.setPolicy(world.apiId, { ...NONE, corsOrigins: APP }, SYSTEM),
    async () => (await fetch(`${other.gatewayUrl}/books/items`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'GET' } })).status === 204)
  t.ok(cors <= 1000, `CORS on: seen after ${cors} ms`)
  const credentials = await seenWithin(async () => await app.services.apis.setPolicy(world.apiId, { ...NONE, backendHeaders: `X-Backend-Token: ${SECRET}` }, SYSTEM),
    async () => { await callOther({ 'ocp-apim-subscription-key': world.primary }); return backend.seen.at(-1)?.headers['x-backend-token'] === SECRET })
  t.ok(credentials <= 1000, `credentials set: used after ${credentials} ms`)
  const products = app.services.products
  const filtered = await seenWithin(async () => {
    const product = await products.findDetails(world.productId)
    await products.updateProduct(world.productId, { ...productInput(product), ipAllow: '203.0.113.0/24' }, SYSTEM)
  }, async () => await callOther({ 'ocp-apim-subscription-key': world.primary }) === 403)
  t.ok(filtered <= 1000, `IP filter on: seen after ${filtered} ms`)
})
