import type { AddressInfo } from 'node:net'
import t from 'tap'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { createSignIn } from '../../../src/services/accounts/sign-in'
import { createPasswordHasher } from '../../../src/services/accounts/passwords'
import { systemClock } from '../../../src/services/kernel/clock'
import { createPasswordChecks } from '../../../src/services/accounts/password-checks'
import { createAttemptLimits } from '../../../src/services/kernel/attempt-limits'

const REFUSED = /The email or password is not right, or this account cannot sign in\./

t.test('one sign-in page: administrators land on /admin, developers on /', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await createDeveloper(app)

  const admin = new Client(app)
  const res = await admin.signIn(' ADA@example.com ', ADMIN.password)
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/admin')

  const dev = new Client(app)
  const devRes = await dev.signIn(DEV.email, DEV.password)
  t.equal(devRes.headers.location, '/')
  const home = await dev.get('/')
  t.match(home.body, /Welcome, Dev/)
  const profile = await dev.get('/profile')
  t.equal(profile.statusCode, 200)
  t.match(profile.body, /dev@example\.com/)
  t.equal((await dev.get('/admin')).statusCode, 403, '/admin is for administrators only')
  const row = await app.db('developers').where('email_normalized', DEV.email).first()
  t.ok(row.last_sign_in_at, 'last sign-in recorded')
})

t.test('sign-in regenerates the session; sign-out destroys it', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const client = new Client(app)
  await client.signIn(ADMIN.email, ADMIN.password)
  const before = client.cookies.get('portico_session')
  t.ok(before, 'signed in: a session')
  await client.signIn(ADMIN.email, ADMIN.password)
  const after = client.cookies.get('portico_session')
  t.not(after, before, 'a new session id')
  const stale = await app.inject({ method: 'GET', url: '/admin', cookies: { portico_session: before ?? '' } })
  t.equal(stale.statusCode, 303, 'the old session id does not carry the sign-in')

  const out = await client.post('/signout')
  t.equal(out.statusCode, 303)
  t.equal(out.headers.location, '/signin?notice=signed-out')
  t.equal((await app.inject({ method: 'GET', url: '/admin', cookies: { portico_session: after ?? '' } })).statusCode, 303, 'the session is gone from the store')
  t.match((await client.get('/signin?notice=signed-out')).body, /You have signed out/)
})

t.test('unknown email, wrong password, blocked account: same status, same message', async (t) => {
  const app = await makeApp(t)
  const admin = await createAdmin(app)
  const dev = await createDeveloper(app)
  await app.services.accounts.blockAccount(dev.id, { id: admin.id, label: admin.email, ip: null })

  const answers = await Promise.all([
    new Client(app).signIn('nobody@example.com', DEV.password),
    new Client(app).signIn(DEV.email.toUpperCase(), 'the wrong password entirely'),
    new Client(app).signIn(DEV.email, DEV.password)
  ])
  for (const res of answers) {
    t.equal(res.statusCode, 400)
    t.match(res.body, REFUSED)
    t.notMatch(res.body, /blocked/i, 'nothing reveals the account state')
  }
  t.match(answers[1].body, /value="DEV@EXAMPLE.COM"/, 'the email is kept')
})

t.test('every refusal does the same hashing work', async (t) => {
  const app = await makeApp(t)
  const admin = await createAdmin(app)
  const dev = await createDeveloper(app)
  await app.services.accounts.blockAccount(dev.id, { id: admin.id, label: admin.email, ip: null })
  const real = createPasswordHasher(10)
  const checked: Array<string | null> = []
  const hasher = { hash: real.hash, verify: async (password: string, stored: string | null) => { checked.push(stored); return await real.verify(password, stored) } }
  const passwordChecks = createPasswordChecks({ limits: createAttemptLimits({ db: app.db, clock: systemClock }), hasher, limit: 100, windowMinutes: 15 })
  const signIn = createSignIn({ db: app.db, clock: systemClock, passwordChecks })
  t.equal(await signIn.authenticate('nobody@example.com', 'whatever it is here'), null)
  t.equal(await signIn.authenticate(ADMIN.email, 'not the right password'), null)
  t.equal(await signIn.authenticate(DEV.email, DEV.password), null)
  t.equal(checked.length, 3, 'one hash check per attempt, account or not')
  t.equal(checked[0], null, 'unknown email: checked against the dummy hash')
})

t.test('next: back to the page asked for, never to another site', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const guarded = await new Client(app).get('/admin/developers?state=active')
  t.equal(guarded.statusCode, 303)
  t.equal(guarded.headers.location, '/signin?next=%2Fadmin%2Fdevelopers%3Fstate%3Dactive')

  const client = new Client(app)
  const page = await client.get(String(guarded.headers.location))
  t.match(page.body, /Please sign in to continue/)
  const res = await client.post('/signin', { email: ADMIN.email, password: ADMIN.password, next: '/admin/developers?state=active' })
  t.equal(res.headers.location, '/admin/developers?state=active')

  const evil = new Client(app)
  const evilRes = await evil.post('/signin', { email: ADMIN.email, password: ADMIN.password, next: '//evil.example/' })
  t.equal(evilRes.headers.location, '/admin')
})

t.test('sign-in is rate-limited per client address (30 a minute by default)', async (t) => {
  const app = await makeApp(t)
  const client = new Client(app, '203.0.113.7')
  await client.get('/signin')
  const statuses: number[] = []
  for (let i = 0; i < 31; i++) statuses.push((await client.post('/signin', { email: `user${i}@example.com`, password: 'wrong password here' })).statusCode)
  t.same(statuses.slice(0, 30), Array(30).fill(400))
  const limited = await client.post('/signin', { email: 'x@example.com', password: 'wrong password here' })
  t.equal(limited.statusCode, 429)
  t.match(limited.body, /Too many attempts/)
  t.equal((await new Client(app, '203.0.113.8').post('/signin', { email: 'x@example.com', password: 'wrong password here' })).statusCode, 400, 'other addresses are not affected')
})

t.test('failed sign-ins are limited per email across addresses (configurable)', async (t) => {
  const app = await makeApp(t, { SIGNIN_FAILURE_LIMIT: '3' })
  await createAdmin(app)
  for (let i = 0; i < 3; i++) {
    t.equal((await new Client(app, `198.51.100.${i + 1}`).signIn(ADMIN.email, 'not the password at all')).statusCode, 400)
  }
  const locked = await new Client(app, '198.51.100.50').signIn(ADMIN.email.toUpperCase(), ADMIN.password)
  t.equal(locked.statusCode, 429, 'even the right password waits')
  t.match(locked.body, /Too many failed password attempts for this email/)
  t.equal((await new Client(app, '198.51.100.51').signIn('other@example.com', 'whatever password')).statusCode, 400, 'other emails unaffected')
})

t.test('a signed-in developer asking for /signin goes home', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await createDeveloper(app)
  const dev = await signedInClient(app, DEV)
  const res = await dev.get('/signin')
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/')
})

t.test('a next that would make an invalid header or leave the site goes home; the server stays up', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  // Over real HTTP: an invalid Location header used to throw inside the session store's callback.
  const client = new Client(app)
  await client.get('/signin')
  const cookie = [...client.cookies].map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('; ')
  for (const next of ['/\n', '/\r\nSet-Cookie: x=y', '/\u007f', '/\u0100', '/\t/evil.example', '//evil.example', '/\\evil.example']) {
    const res = await fetch(`${base}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ _csrf: client.csrf ?? '', email: ADMIN.email, password: ADMIN.password, next }).toString()
    })
    t.equal(res.status, 303)
    t.equal(res.headers.get('location'), '/admin', 'the fallback, not the given next')
  }
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'still serving')

  const admin = await signedInClient(app, ADMIN)
  for (const next of ['/%0A', '/%09/evil.example', '/%C4%80', '//evil.example']) {
    const res = await admin.get(`/signin?next=${next}`)
    t.equal(res.statusCode, 303, `signed in, next=${next}`)
    t.equal(res.headers.location, '/admin')
  }
  t.equal((await admin.get('/signin?next=/%00')).statusCode, 400, 'a NUL byte is refused outright')
})

t.test('at most SIGNIN_FAILURE_LIMIT password checks per email, however many arrive at once', async (t) => {
  const app = await makeApp(t, { SIGNIN_FAILURE_LIMIT: '10', RATE_LIMIT_PER_MINUTE: '1000', PASSWORD_HASH_QUEUE: '1000' })
  await createAdmin(app)
  const clients = await Promise.all(Array.from({ length: 30 }, async () => {
    const client = new Client(app)
    await client.get('/signin')
    return client
  }))
  // 29 wrong guesses and the right password, all at once, the right one sent last.
  const answers = await Promise.all(clients.map(async (client, i) =>
    await client.post('/signin', { email: ADMIN.email, password: i === 29 ? ADMIN.password : `wrong guess number ${i}` })))
  const statuses = answers.map((res) => res.statusCode)
  t.equal(statuses.filter((s) => s === 429).length, 20, 'only 10 of the 30 had their password checked')
  t.equal(statuses[29], 429, 'the right password, arriving past the limit, does not get in')
  t.notOk(statuses.includes(303))
  const counters = await app.db('attempt_counters').select()
  t.equal(counters.length, 1)
  t.equal(Number(counters[0].attempts), 30, 'every attempt was counted')
  t.notMatch(JSON.stringify(counters), /ada@example|wrong guess/, 'a digest, never what was typed')
})

t.test('a flood of sign-ins: bounded hashing answers 503 with Retry-After past its queue, never another 5xx', async (t) => {
  const app = await makeApp(t, { PASSWORD_HASH_COST: '14', PASSWORD_HASH_CONCURRENCY: '2', PASSWORD_HASH_QUEUE: '2', SIGNIN_FAILURE_LIMIT: '1000' })
  await createAdmin(app)
  const clients = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
    const client = new Client(app, `203.0.113.${i % 5}`)
    await client.get('/signin')
    return client
  }))
  const flood = Promise.all(clients.map(async (client, i) => await client.post('/signin', { email: `user${i}@example.com`, password: 'a wrong password for them' })))
  const health = await app.inject({ method: 'GET', url: '/healthz' })
  const answers = await flood
  t.equal(health.statusCode, 200, 'reads keep flowing meanwhile')
  const statuses = answers.map((res) => res.statusCode)
  t.same([...new Set(statuses)].sort(), [400, 503], 'refused sign-ins and busy answers, nothing else')
  const busy = answers.find((res) => res.statusCode === 503)
  t.equal(busy?.headers['retry-after'], '5')
  t.match(busy?.body ?? '', /busy right now/)
  t.ok(statuses.filter((s) => s === 400).length >= 4, 'the ones that got a slot were answered')
})
