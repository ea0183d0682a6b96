import t from 'tap'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../helpers'
import { KnexSessionStore } from '../../src/db/session-store'
import { defused } from '../../src/services/transfer/spreadsheet-cells'

t.test('a visitor who only reads pages creates no session row', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  for (let i = 0; i < 50; i++) {
    for (const url of ['/signin', '/signup', '/password-reset', '/signup/resend']) t.equal((await app.inject({ method: 'GET', url })).statusCode, 200)
  }
  t.equal(Number((await app.db('sessions').count({ n: '*' }).first())?.n), 0)
  // The signed-out forms still work: their CSRF secret is in a signed cookie.
  const client = new Client(app)
  t.equal((await client.signIn(ADMIN.email, ADMIN.password)).statusCode, 303)
  t.equal(Number((await app.db('sessions').count({ n: '*' }).first())?.n), 1, 'signing in makes the one session')
})

t.test('CSRF tokens are bound to the account: a token from before sign-in, or from another account, fails', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const admin = new Client(app)
  await admin.get('/signin')
  const signedOutToken = admin.csrf ?? ''
  await admin.signIn(ADMIN.email, ADMIN.password)
  t.equal((await admin.post(`/admin/developers/${dev.id}/block`, { _csrf: signedOutToken })).statusCode, 403, 'the signed-out token')
  const other = await signedInClient(app, DEV)
  // The developer's token, sent with the admin's cookies.
  t.equal((await admin.post(`/admin/developers/${dev.id}/block`, { _csrf: other.csrf ?? '' })).statusCode, 403, "another account's token")
  const tampered = await admin.request({
    method: 'POST',
    url: `/admin/developers/${dev.id}/block`,
    cookies: { portico_csrf: 'attacker-chosen-secret' },
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `_csrf=${encodeURIComponent(admin.csrf ?? '')}`
  })
  t.equal(tampered.statusCode, 403, 'an unsigned secret cookie is not accepted')
  t.equal((await app.db('developers').where('id', dev.id).first()).state, 'active')
  t.equal((await admin.post(`/admin/developers/${dev.id}/block`)).statusCode, 303, 'the right token works')
})

t.test('POSTs that the browser says are cross-site are refused, whatever the token', async (t) => {
  const app = await makeApp(t, { PUBLIC_URL: 'http://portal.example.com' })
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const admin = await signedInClient(app, ADMIN)
  const post = async (headers: Record<string, string>) => await admin.request({
    method: 'POST',
    url: `/admin/developers/${dev.id}/block`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: `_csrf=${encodeURIComponent(admin.csrf ?? '')}`
  })
  for (const headers of [
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    { origin: 'https://evil.example' },
    { origin: 'http://portal.example.com.evil.example' }
  ] as Array<Record<string, string>>) {
    const res = await post(headers)
    t.equal(res.statusCode, 403, JSON.stringify(headers))
    t.match(res.body, /sent from another site/)
  }
  t.equal((await app.db('developers').where('id', dev.id).first()).state, 'active', 'nothing changed')
  t.equal((await post({ 'sec-fetch-site': 'same-origin', origin: 'null' })).statusCode, 303, 'our own form (Origin null under no-referrer)')
  await admin.post(`/admin/developers/${dev.id}/activate`)
  t.equal((await post({ origin: 'http://portal.example.com' })).statusCode, 303, 'our own origin')
})

t.test('signed-in pages, exports and pages with a secret are never cached', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await createDeveloper(app)
  const admin = await signedInClient(app, ADMIN)
  for (const url of ['/admin', '/admin/developers', '/admin/audit.csv', '/admin/emails', '/profile']) {
    t.equal((await admin.get(url)).headers['cache-control'], 'no-store', url)
  }
  const token = 'A'.repeat(43)
  for (const url of [`/password-reset/${token}`, `/invitations/${token}`, `/confirm/${token}`, `/profile/email/${token}`]) {
    t.equal((await app.inject({ method: 'GET', url })).headers['cache-control'], 'no-store', url)
  }
  t.not((await app.inject({ method: 'GET', url: '/public/portico.css' })).headers['cache-control'], 'no-store', 'the stylesheet may be cached')
})

t.test('TRUST_PROXY=true trusts one hop: a client cannot pick its own address', async (t) => {
  const app = await makeApp(t, { TRUST_PROXY: 'true' })
  const statuses: number[] = []
  for (let i = 0; i < 40; i++) {
    // The proxy (127.0.0.1) appends the real client, 203.0.113.9; the client made up the first entry.
    const res = await app.inject({ method: 'POST', url: '/signin', headers: { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.9` }, payload: {} })
    statuses.push(res.statusCode)
  }
  t.equal(statuses.filter((s) => s === 429).length, 10, 'limited as one client after 30')
})

t.test('TRUST_PROXY as a list of proxies: only their X-Forwarded-For is believed', async (t) => {
  const app = await makeApp(t, { TRUST_PROXY: '10.0.0.1, 192.168.0.0/16' })
  const ipOf = async (remoteAddress: string, forwarded: string): Promise<string | null> => {
    const client = new Client(app, remoteAddress)
    await client.get('/signin')
    const res = await client.request({
      method: 'POST', url: '/signup', headers: { 'x-forwarded-for': forwarded, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: client.csrf ?? '', firstName: 'A', lastName: 'B', email: `${remoteAddress}@example.com`, password: 'a perfectly fine passphrase' }).toString()
    })
    t.equal(res.statusCode, 303)
    const event = await app.db('audit_events').where('action', 'developer.signed-up').orderBy('id', 'desc').first()
    return event?.ip ?? null
  }
  t.equal(await ipOf('10.0.0.1', '203.0.113.5'), '203.0.113.5', 'a listed proxy')
  t.equal(await ipOf('192.168.4.4', '203.0.113.6'), '203.0.113.6', 'a proxy in a listed range')
  t.equal(await ipOf('172.16.0.9', '203.0.113.7'), '172.16.0.9', 'anyone else: their own address')
})

t.test('an exception in a session store callback is reported, never an unhandled rejection', async (t) => {
  const app = await makeApp(t)
  const reported: unknown[] = []
  const store = new KnexSessionStore(app.db, app.readDb, app.services.signIn.sessionAccounts, (err) => reported.push(err))
  let unhandled = 0
  const onUnhandled = (): void => { unhandled++ }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const session = { cookie: { expires: new Date(Date.now() + 60_000) } } as unknown as Parameters<KnexSessionStore<unknown>['set']>[1]
  await new Promise<void>((resolve) => { store.set('sid-1', session, () => { resolve(); throw new Error('header write failed') }) })
  await new Promise<void>((resolve) => { store.get('sid-1', () => { resolve(); throw new Error('get callback failed') }) })
  await new Promise<void>((resolve) => { store.destroy('sid-1', () => { resolve(); throw new Error('destroy callback failed') }) })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(unhandled, 0)
  t.equal(reported.length, 3)
})

t.test('CSV cells never start a formula, full-width forms included', async (t) => {
  for (const value of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx', '＝1+1', '＋1', '－1', '＠SUM(A1)', ' =1+1']) {
    t.match(defused(value), /^'/, `defused: ${JSON.stringify(value)}`)
  }
  t.equal(defused('plain'), 'plain')
  t.equal(defused('say "hi"'), 'say "hi"')
})

t.test('a NUL byte in any form field or query is a 400 on every route, before it reaches the database', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  const query = await admin.get('/admin/developers?q=%00')
  t.equal(query.statusCode, 400)
  t.match(query.body, /character that is not allowed/)
  t.equal((await admin.post('/admin/groups', { name: 'A\u0000B', description: '' })).statusCode, 400)
  t.equal((await new Client(app).post('/signin', { email: '\u0000', password: 'whatever it may be' })).statusCode, 400)
  t.equal(Number((await app.db('groups').count({ n: '*' }).first())?.n), 3, 'nothing was written')
})
