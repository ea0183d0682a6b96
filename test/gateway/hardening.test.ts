import t from 'tap'
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { makeApp } from '../helpers'
import { productFor } from '../fixtures/catalog'
import { gatewayWorld, rawHttp, startBackend, tricklingUpload, SYSTEM, type Seen } from '../fixtures/gateway'
import { startSecondInstance } from '../fixtures/instance'
import { MESSAGES } from '../../src/services/gateway/gateway'
import { isPostgres } from '../../src/db/knex'

interface Teardown { teardown: (fn: () => unknown) => void }

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A backend that answers `/h/<case>` with the raw headers of that case (node sends each pair as
 * its own header line, so one Set-Cookie arrives as one line, as undici then hands it: a string).
 */
async function headerBackend (t: Teardown): Promise<string> {
  const cases: Record<string, { status?: number, headers: string[] }> = {
    'one-own-cookie': { headers: ['Set-Cookie', 'portico_session=stolen; Path=/'] },
    'one-cookie': { headers: ['Set-Cookie', 'theme=dark; Path=/'] },
    'several-cookies': { headers: ['Set-Cookie', 'a=1', 'Set-Cookie', 'portico_csrf=x', 'Set-Cookie', 'b=2; HttpOnly'] },
    'empty-cookie': { headers: ['Set-Cookie', ''] },
    'nameless-cookie': { headers: ['Set-Cookie', '=portico_session=evil; Path=/', 'Set-Cookie', 'portico_session', 'Set-Cookie', ' =x'] },
    'origin-wide': { headers: ['Clear-Site-Data', '"cookies"', 'Strict-Transport-Security', 'max-age=63072000; includeSubDomains', 'Alt-Svc', 'h2="evil.example:443"', 'X-Kept', 'yes'] },
    'repeated': { headers: ['Content-Security-Policy', "default-src 'self'", 'Content-Security-Policy', "img-src 'none'", 'Connection', 'x-a', 'Connection', 'x-b', 'X-A', '1', 'X-B', '2', 'X-C', '3'] },
    'bad-status': { status: 600, headers: [] }
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const name = (req.url ?? '').split('/').pop() ?? ''
    const shape = cases[name] ?? { headers: [] }
    req.resume()
    req.on('end', () => {
      res.writeHead(shape.status ?? 200, [...shape.headers, 'Content-Type', 'application/json'])
      res.end(JSON.stringify({ case: name }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('every shape of Set-Cookie a backend can send is handled: the call is answered, the process lives, the portal\'s cookies stay the portal\'s', async (t) => {
  const app = await makeApp(t)
  const backendUrl = await headerBackend(t)
  const api = await app.services.apis.createApi({ name: 'Headers', path: 'headers', serviceUrl: backendUrl, description: '', openapi: '' }, SYSTEM)
  await productFor(app, SYSTEM, { name: 'Open headers', subscriptionRequired: false }, [api.id])
  const call = async (name: string) => await app.inject(`/gateway/headers/h/${name}`)

  const one = await call('one-own-cookie')
  t.equal(one.statusCode, 200, 'one Set-Cookie (a string, not an array) does not end the process')
  t.equal(one.headers['set-cookie'], undefined, 'and the portal\'s session cookie is not set')
  t.same((await call('one-cookie')).headers['set-cookie'], ['theme=dark; Path=/'], 'a backend\'s own single cookie passes')
  t.same((await call('several-cookies')).headers['set-cookie'], ['a=1', 'b=2; HttpOnly'], 'several: the portal\'s CSRF cookie is taken out, the others kept')
  const empty = await call('empty-cookie')
  t.equal(empty.statusCode, 200)
  t.equal(empty.headers['set-cookie'], undefined, 'an empty Set-Cookie is dropped')
  const nameless = await call('nameless-cookie')
  t.equal(nameless.statusCode, 200)
  t.equal(nameless.headers['set-cookie'], undefined, 'nameless cookies ("=portico_session=…", "portico_session", " =x") are dropped: a browser would send them back as the session cookie')

  const wide = await call('origin-wide')
  t.equal(wide.headers['clear-site-data'], undefined, 'Clear-Site-Data cannot sign the visitor out of the portal')
  t.equal(wide.headers['strict-transport-security'], undefined, 'nor HSTS pin the portal\'s host')
  t.equal(wide.headers['alt-svc'], undefined, 'nor Alt-Svc send its traffic elsewhere')
  t.equal(wide.headers['x-kept'], 'yes', 'other headers pass')

  const repeated = await call('repeated')
  t.equal(repeated.statusCode, 200, 'headers sent twice (arrays) are handled too')
  t.equal(repeated.headers['content-security-policy'], "default-src 'self', img-src 'none', sandbox", 'both policies kept, and the sandbox added')
  t.equal(repeated.headers['x-a'], undefined, 'headers named by either Connection line are hop-by-hop')
  t.equal(repeated.headers['x-b'], undefined)
  t.equal(repeated.headers['x-c'], '3')

  const bad = await call('bad-status')
  t.equal(bad.statusCode, 502, 'a status no HTTP server may send: 502 for that call')
  t.same(bad.json(), { statusCode: 502, message: 'The API\'s backend answered in a way the gateway cannot pass on.' })

  t.equal((await call('one-cookie')).statusCode, 200, 'the gateway still serves')
  t.equal((await app.inject('/healthz')).statusCode, 200, 'and so does the portal')
})

t.test('Forwarded, X-Real-IP and X-Forwarded-* reach the backend as the gateway believes them, never as the client wrote them', async (t) => {
  const backend = await startBackend(t)
  const lying = { forwarded: 'for=10.0.0.1;host=admin.internal', 'x-real-ip': '10.0.0.1', 'x-forwarded-for': '10.0.0.2', 'x-forwarded-host': 'admin.internal', 'x-forwarded-proto': 'https', host: 'portal.example' }

  const direct = await makeApp(t)
  const world = await gatewayWorld(direct, backend.url)
  const seen = (await direct.inject({ url: '/gateway/books/x', headers: { ...lying, 'ocp-apim-subscription-key': world.primary }, remoteAddress: '198.51.100.7' })).json() as Seen
  t.equal(seen.headers['x-real-ip'], '198.51.100.7', 'X-Real-IP is the connection\'s address')
  t.equal(seen.headers['x-forwarded-for'], '198.51.100.7', 'a client\'s own X-Forwarded-For is not believed without TRUST_PROXY')
  t.equal(seen.headers.forwarded, 'for=198.51.100.7;proto=http;host="portal.example"')
  t.equal(seen.headers['x-forwarded-proto'], 'http')
  t.equal(seen.headers['x-forwarded-host'], 'portal.example')

  const behindProxy = await makeApp(t, { TRUST_PROXY: '1' })
  const proxied = await gatewayWorld(behindProxy, backend.url)
  const viaProxy = (await behindProxy.inject({
    url: '/gateway/books/x',
    headers: { ...lying, 'x-forwarded-for': '10.9.9.9, 203.0.113.5', 'ocp-apim-subscription-key': proxied.primary },
    remoteAddress: '192.0.2.1'
  })).json() as Seen
  t.equal(viaProxy.headers['x-real-ip'], '203.0.113.5', 'TRUST_PROXY=1: the hop the proxy added is the client')
  t.equal(viaProxy.headers['x-forwarded-for'], '203.0.113.5, 192.0.2.1', 'the trusted chain only: the client\'s own claim (10.9.9.9) is dropped')
  t.match(viaProxy.headers.forwarded, /^for=203\.0\.113\.5;proto=https;host="admin\.internal"$/, 'the proxy is trusted for the scheme and host too')

  const v6 = (await direct.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': world.primary }, remoteAddress: '2001:db8::1' })).json() as Seen
  t.match(v6.headers.forwarded, /^for="\[2001:db8::1\]";/, 'an IPv6 address is bracketed and quoted, as RFC 7239 says')
})

t.test('an absolute-form target is served by the API its path names, never by its host', async (t) => {
  const shop = await startBackend(t)
  const shopAdmin = await startBackend(t)
  const app = await makeApp(t)
  const apis = [
    await app.services.apis.createApi({ name: 'Shop', path: 'shop', serviceUrl: shop.url, description: '', openapi: '' }, SYSTEM),
    await app.services.apis.createApi({ name: 'Shop admin', path: 'shop-admin', serviceUrl: shopAdmin.url, description: '', openapi: '' }, SYSTEM)
  ]
  await productFor(app, SYSTEM, { name: 'Open shop', subscriptionRequired: false }, apis.map((a) => a.id))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  const answer = await rawHttp(port, 'GET http://Xshop-admin/gateway/shop/x?a=1 HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n')
  t.match(answer, /^HTTP\/1\.1 200 /)
  t.equal(shopAdmin.seen.length, 0, 'the API named by the host\'s tail never hears of it')
  t.same(shop.seen.map((s) => s.url), ['/x?a=1'], 'the path of the URL is the one served')

  const elsewhere = await rawHttp(port, 'GET http://Xshop-admin/ HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n')
  t.notMatch(elsewhere, /^HTTP\/1\.1 [25]\d\d /, 'a target whose path is not the gateway\'s is not forwarded')
  t.equal(shop.seen.length + shopAdmin.seen.length, 1)
})

t.test('keys that cannot be keys: 401 before any look-up, nothing remembered; an instance\'s RSS stays flat under 20,000 random 15,000-character keys', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const invalid = { statusCode: 401, message: MESSAGES.invalidKey }
  for (const key of ['short', 'F'.repeat(32), 'g'.repeat(32), `${world.primary}0`, world.primary.toUpperCase(), ' '.repeat(32)]) {
    const res = await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': key } })
    t.same(res.json(), invalid, `"${key.slice(0, 40)}" is refused`)
  }
  t.equal((await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': world.primary } })).statusCode, 200, 'a real key still works')

  // Another instance with a bounded heap (its TypeScript loader and modules take 100–150 MB, more while the machine is busy): had it kept those keys (300 MB of them), it would die.
  const other = await startSecondInstance(t, app.config, {}, ['--max-old-space-size=400'])
  const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${other.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
  const statuses = new Map<number, number>()
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  t.teardown(() => { agent.destroy() })
  const gateway = new URL(other.gatewayUrl)
  const send = async (i: number): Promise<number> => await new Promise((resolve, reject) => {
    const key = randomBytes(7500).toString('hex') // 15,000 hex characters
    const path = i % 2 === 0 ? `${gateway.pathname}/books/x` : `${gateway.pathname}/books/x?subscription-key=${key}`
    const req = request({ host: gateway.hostname, port: gateway.port, path, agent, headers: i % 2 === 0 ? { 'ocp-apim-subscription-key': key } : {} }, (res) => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
    })
    req.on('error', reject)
    req.end()
  })
  let sent = 0
  const lanes = Array.from({ length: 16 }, async () => {
    while (sent < 20_000) {
      const status = await send(sent++)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  })
  const before = rss()
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, rss()) }, 100)
  await Promise.all(lanes)
  clearInterval(sampler)
  t.same([...statuses], [[401, 20_000]], 'every one refused with 401')
  t.ok(peak - before < 100, `the instance's RSS went from ${before.toFixed(0)} MB to at most ${peak.toFixed(0)} MB (remembered as sent, these keys took 14 MB per 1,000)`)
  t.equal((await fetch(`${other.gatewayUrl}/books/x`, { headers: { 'ocp-apim-subscription-key': world.primary } })).status, 200, 'and it still serves')
  t.equal(backend.seen.length, 2)
})

t.test('a request body that stops arriving gets 408, and its backend connection is freed', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, {}, { gatewayBodyIdleMs: 300 })
  const world = await gatewayWorld(app, backend.url)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const started = Date.now()
  const upload = tricklingUpload(port, '/gateway/books/upload', { 'ocp-apim-subscription-key': world.primary })
  const answer = await upload.answer
  t.match(answer, /^HTTP\/1\.1 408 /, '408 once nothing came for the idle time')
  t.match(answer, /"The request body stopped arriving, so the call was ended\."/)
  t.ok(Date.now() - started < 3000, 'well before any other timeout')
  t.equal((await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': world.primary } })).statusCode, 200, 'the key works again at once')
  await app.services.gateway.flush()
  const row = await app.db('gateway_usage').where({ outcome: 'body-timeout' }).first('calls', 'status_class')
  t.same([Number(row?.calls), Number(row?.status_class)], [1, 4], 'counted as its own outcome')
})

t.test('slow uploads with one key cannot starve a backend: a cap per subscription, and a bounded wait for a connection', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, { GATEWAY_CONCURRENT_CALLS: '3', GATEWAY_BACKEND_CONNECTIONS: '5' }, { gatewayBackendWaitMs: 300 })
  const world = await gatewayWorld(app, backend.url)
  const other = await app.services.accounts.createAccount({ firstName: 'Other', lastName: 'Dev', email: 'other@example.com', password: 'quiet mountain lake at dawn' }, [], SYSTEM)
  const otherSubscription = await app.services.subscriptions.subscribeOnBehalf(other.id, { productId: world.productId, displayName: 'Other app' }, SYSTEM)
  const [otherKeys] = (await app.services.subscriptions.listOwn(other.id)).filter((s) => s.id === otherSubscription.id)
  const otherKey = otherKeys.keys.primary ?? ''
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  // One key opens 6 slow uploads: 3 are forwarded, the other 3 refused at once.
  const uploads = Array.from({ length: 6 }, () => tricklingUpload(port, '/gateway/books/upload', { 'ocp-apim-subscription-key': world.primary }))
  await sleep(300)
  const refused = uploads.filter((u) => /^HTTP\/1\.1 429 /.test(u.sofar()))
  t.equal(refused.length, 3, 'calls past the subscription\'s 3 are refused with 429')
  t.match(refused[0].sofar(), /Too many calls at once: at most 3 may be in progress/)
  t.match(refused[0].sofar(), /retry-after: 1/i)

  const another = await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': otherKey } })
  t.equal(another.statusCode, 200, 'another developer\'s call to the same backend goes through')

  // The backend's 5 connections: 3 held by the uploads, 2 by slow calls; the next waits, then 503.
  const slow = [0, 1].map(async () => await app.inject({ url: '/gateway/books/slow?ms=1500', headers: { 'ocp-apim-subscription-key': otherKey } }))
  await sleep(100)
  const waited = Date.now()
  const busy = await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': otherKey } })
  t.equal(busy.statusCode, 503, 'no connection within the wait: 503')
  t.ok(Date.now() - waited < 1500, 'after the bounded wait, not when a connection frees')
  t.same(busy.json(), { statusCode: 503, message: 'The API\'s backend is busy: every connection to it is in use. Try again in a moment.' })
  t.equal(busy.headers['retry-after'], '1')
  t.same((await Promise.all(slow)).map((r) => r.statusCode), [200, 200])

  for (const upload of uploads) upload.finish()
  const answers = await Promise.all(uploads.map(async (u) => await u.answer.catch(() => '')))
  t.equal(answers.filter((a) => /^HTTP\/1\.1 200 /.test(a)).length, 3, 'the 3 forwarded uploads complete')
  t.equal((await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': world.primary } })).statusCode, 200, 'their slots are given back')
})

t.test('a caller that leaves while it waits for a connection gives its place back', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, { GATEWAY_BACKEND_CONNECTIONS: '1' }, { gatewayBackendWaitMs: 2000 })
  const world = await gatewayWorld(app, backend.url)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const headers = { 'ocp-apim-subscription-key': world.primary }
  const slow = app.inject({ url: '/gateway/books/slow?ms=500', headers })
  await sleep(50)
  const leaving = tricklingUpload(port, '/gateway/books/x', headers, 0, 0) // waits for the one connection
  await sleep(100)
  leaving.abort()
  t.equal((await slow).statusCode, 200)
  await sleep(50)
  const next = await app.inject({ url: '/gateway/books/x', headers })
  t.equal(next.statusCode, 200, 'the next call gets the connection, not a 503 after the wait')
})

t.test('a caller that leaves while its quota is reserved gives its slot back, and nothing is forwarded', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, { GATEWAY_CONCURRENT_CALLS: '1' })
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '1000', quotaPeriod: 'day' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const headers = { 'ocp-apim-subscription-key': world.primary }
  // The first call of the day reserves its quota in the database: held up here by a lock on the quota table.
  const lock = await app.db.transaction()
  if (isPostgres(lock)) await lock.raw('lock table quota_usage in exclusive mode')
  else await lock('quota_usage').where({ subscription_id: -1 }).update({ calls: 0 })
  const leaving = tricklingUpload(port, '/gateway/books/left', headers, 0, 0)
  await sleep(300)
  t.equal(leaving.sofar(), '', 'the call waits on its quota')
  leaving.abort()
  await sleep(100)
  await lock.rollback()
  await sleep(300)
  t.notOk(backend.seen.some((s) => s.url === '/v1/left'), 'the call of a caller gone is not forwarded')
  const next = await app.inject({ url: '/gateway/books/x', headers })
  t.equal(next.statusCode, 200, 'the subscription\'s one slot was given back: no 429')
})
