import t from 'tap'
import { makeApp } from '../helpers'
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
