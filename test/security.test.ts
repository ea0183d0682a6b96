import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../src/app'
import { loggerOptions } from '../src/logging'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, makeConfig, signedInClient } from './helpers'

t.test('strict CSP and helmet headers on every page', async (t) => {
  const app = await makeApp(t)
  const res = await app.inject({ method: 'GET', url: '/setup' })
  t.equal(res.headers['content-security-policy'], "default-src 'none';style-src 'self';img-src 'self';form-action 'self';frame-ancestors 'none';base-uri 'none'")
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
  t.notMatch(res.body, /<script/i, 'no scripts in pages')
})

t.test('session cookie: HttpOnly, SameSite=Lax; Secure only when PUBLIC_URL is https', async (t) => {
  const app = await makeApp(t)
  const res = await app.inject({ method: 'GET', url: '/setup' })
  const cookie = String(res.headers['set-cookie'])
  t.match(cookie, /portico_session=/)
  t.match(cookie, /HttpOnly/)
  t.match(cookie, /SameSite=Lax/)
  t.notMatch(cookie, /Secure/)

  const secureApp = await makeApp(t, { PUBLIC_URL: 'https://portal.example.com' })
  const secure = await secureApp.inject({ method: 'GET', url: '/setup', headers: { 'x-forwarded-proto': 'https' } })
  t.notOk(secure.headers['set-cookie'], 'no Secure cookie is sent over plain http')
  const proxied = await makeApp(t, { PUBLIC_URL: 'https://portal.example.com', TRUST_PROXY: 'true' })
  const behindProxy = await proxied.inject({ method: 'GET', url: '/setup', headers: { 'x-forwarded-proto': 'https' } })
  t.match(String(behindProxy.headers['set-cookie']), /; Secure/)
})

t.test('a POST without a valid _csrf is 403 and changes nothing', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const admin = await signedInClient(app, ADMIN)
  const missing = await admin.request({ method: 'POST', url: `/admin/developers/${dev.id}/block`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
  t.equal(missing.statusCode, 403)
  t.match(missing.body, /form has expired or came from another site/)
  const wrong = await admin.post(`/admin/developers/${dev.id}/block`, { _csrf: 'forged-token' })
  t.equal(wrong.statusCode, 403)
  const otherSession = new Client(app)
  await otherSession.get('/signin')
  const stolen = await admin.post(`/admin/developers/${dev.id}/block`, { _csrf: otherSession.csrf ?? '' })
  t.equal(stolen.statusCode, 403, "another session's token does not work")
  t.equal((await app.db('developers').where('id', dev.id).first()).state, 'active')
  const signin = await new Client(app).request({ method: 'POST', url: '/signin', payload: { email: ADMIN.email, password: ADMIN.password } })
  t.equal(signin.statusCode, 403, 'sign-in needs it too')
})

t.test('sessions live in the database and hold only the account id', async (t) => {
  const app = await makeApp(t)
  const admin = await createAdmin(app)
  await signedInClient(app, ADMIN)
  const rows = await app.db('sessions').where('account_id', admin.id)
  t.equal(rows.length, 1)
  const data = JSON.parse(rows[0].data)
  t.equal(data.accountId, admin.id)
  t.same(Object.keys(data).filter((k) => !['cookie', 'accountId', '_csrf', 'flash'].includes(k)), [], 'nothing else about the account')
  t.notMatch(rows[0].data, /ada@example\.com|Ada|administrator/i)
})

t.test('a restart keeps accounts and sessions', async (t) => {
  const config = await makeConfig(t)
  const first = await buildApp(config)
  await createAdmin(first)
  const client = await signedInClient(first, ADMIN)
  const cookie = client.cookies.get('portico_session') ?? ''
  await first.close()

  const second = await buildApp(config)
  t.teardown(async () => await second.close())
  const res = await second.inject({ method: 'GET', url: '/admin', cookies: { portico_session: cookie } })
  t.equal(res.statusCode, 200, 'still signed in after the restart')
  t.match(res.body, /Publisher portal/)
})

t.test('unexpected form input is a 400, never a 500', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  const extra = await admin.post('/admin/developers', { firstName: 'A', lastName: 'B', email: 'a@example.com', password: DEV.password, isAdmin: 'true' })
  t.equal(extra.statusCode, 400)
  const twice = await admin.post('/admin/developers', { firstName: ['A', 'B'], lastName: 'B', email: 'a@example.com', password: DEV.password })
  t.equal(twice.statusCode, 400)
  const missing = await admin.post('/admin/developers', { firstName: 'A' })
  t.equal(missing.statusCode, 400)
  const huge = await admin.post('/admin/developers', { firstName: 'A'.repeat(5000), lastName: 'B', email: 'a@example.com', password: DEV.password })
  t.equal(huge.statusCode, 400)
  const json = await admin.request({ method: 'POST', url: '/admin/developers', headers: { 'content-type': 'application/json' }, payload: '{"firstName":' })
  t.ok(json.statusCode >= 400 && json.statusCode < 500, `malformed JSON: ${json.statusCode}`)
  const badGroup = await admin.post('/admin/developers', { firstName: 'A', lastName: 'B', email: 'a@example.com', password: DEV.password, groups: 'abc' })
  t.equal(badGroup.statusCode, 400)
  t.equal(await app.db('developers').where('email_normalized', 'a@example.com').first(), undefined)
})

t.test('logs are JSON lines without passwords', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const app = await buildApp(await makeConfig(t), { logger: { ...loggerOptions('debug'), stream } })
  t.teardown(async () => await app.close())
  await createAdmin(app)
  await new Client(app).signIn(ADMIN.email, ADMIN.password)
  await new Client(app).signIn(ADMIN.email, 'a wrong but secret guess')
  t.ok(lines.length > 0)
  for (const line of lines) JSON.parse(line)
  const all = lines.join('')
  t.notMatch(all, /correct horse battery staple/)
  t.notMatch(all, /a wrong but secret guess/)
  t.notMatch(all, /portico_session=/, 'no cookies')
})

t.test('/healthz answers ok while the database answers', async (t) => {
  const app = await buildApp(await makeConfig(t))
  const ok = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(ok.statusCode, 200)
  t.equal(ok.body, 'ok')
  await app.db.destroy()
  const down = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(down.statusCode, 503)
  await app.close().catch(() => undefined)
})
