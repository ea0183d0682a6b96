import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'

/**
 * Records the SQL each request runs before its answer is sent (onSend), so two requests can be
 * compared: the same statements mean the same work, and so no timing difference to measure.
 */
function recordSqlBeforeAnswer (app: FastifyInstance): () => string[] {
  let current: string[] = []
  let answered: string[] = []
  app.db.on('query', (query: { sql: string }) => { current.push(query.sql) })
  app.addHook('onRequest', async () => { current = [] })
  app.addHook('onSend', async (_request, _reply, payload) => {
    answered = current
    current = []
    return payload
  })
  return () => answered
}

t.test('password reset, resend confirmation, email change: the same work before answering, account or not', async (t) => {
  // No SMTP: no sender running beside the requests, and the gateway's change poll slowed to once
  // an hour, so the SQL seen is the requests' own.
  const app = await makeApp(t, {}, { gateway: { pollMs: 3_600_000 } })
  const sqlOf = recordSqlBeforeAnswer(app)
  await createAdmin(app)
  await createDeveloper(app)
  await new Client(app).post('/signup', { firstName: 'Pat', lastName: 'Pending', email: 'pending@example.com', password: 'a perfectly fine passphrase' })
  await app.services.background.idle()

  const compare = async (label: string, send: (email: string) => Promise<number>, known: string, unknown: string): Promise<void> => {
    // Each request alone (the previous one's after-answer work finished), so only its own SQL is seen.
    const run = async (email: string): Promise<{ status: number, sql: string[] }> => {
      await app.services.background.idle()
      const status = await send(email)
      return { status, sql: sqlOf() }
    }
    const known1 = await run(known)
    const unknown1 = await run(unknown)
    t.equal(known1.status, unknown1.status, `${label}: the same answer`)
    t.ok(known1.sql.length > 0)
    t.same(unknown1.sql, known1.sql, `${label}: the same statements before answering`)
    await app.services.background.idle()
  }
  const anonymous = new Client(app)
  await anonymous.get('/signin')
  await compare('password reset', async (email) => (await anonymous.post('/password-reset', { email })).statusCode, DEV.email, 'nobody@example.com')
  await compare('resend confirmation', async (email) => (await anonymous.post('/signup/resend', { email })).statusCode, 'pending@example.com', 'nobody@example.com')
  const dev = await signedInClient(app, DEV)
  await compare('email change', async (email) => (await dev.post('/profile/email', { email, password: DEV.password })).statusCode, ADMIN.email, 'free@example.com')

  // The work still happens, after the answer.
  const queued = await app.db('outbox_emails').pluck('template')
  t.ok(queued.includes('password-reset'), 'the reset email was written')
  t.equal(queued.filter((name: string) => name === 'email-change').length, 1, 'one email-change link: for the free address only')
})

t.test('emails a visitor can trigger are limited per target address, across client addresses', async (t) => {
  const app = await makeApp(t, { EMAILS_PER_ADDRESS_PER_HOUR: '3' })
  await createAdmin(app)
  await createDeveloper(app)
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await new Client(app, `198.51.100.${i}`).post('/password-reset', { email: DEV.email })).statusCode)
  t.same(statuses, [200, 200, 200, 429, 429])
  const limited = await new Client(app, '198.51.100.99').post('/password-reset', { email: DEV.email.toUpperCase() })
  t.equal(limited.statusCode, 429, 'the same address in another case')
  t.match(limited.body, /Too many emails were asked for this address/)
  t.ok(Number(limited.headers['retry-after']) > 3000, 'wait until the hour is over')
  await app.services.background.idle()
  t.equal(Number((await app.db('outbox_emails').where('template', 'password-reset').count({ n: '*' }).first())?.n), 3, 'three emails, not five')
  t.equal((await new Client(app).post('/password-reset', { email: 'nobody@example.com' })).statusCode, 200, 'other addresses are unaffected')
  t.equal((await new Client(app).post('/signup/resend', { email: DEV.email })).statusCode, 429, 'one budget for every email to this address')
  t.equal((await new Client(app).post('/signup', { firstName: 'D', lastName: 'E', email: DEV.email, password: 'a perfectly fine passphrase' })).statusCode, 429, 'sign-up too')
})

t.test('password checks on the profile share the email\'s budget with sign-in', async (t) => {
  const app = await makeApp(t, { SIGNIN_FAILURE_LIMIT: '3' })
  await createAdmin(app)
  await createDeveloper(app)
  const dev = await signedInClient(app, DEV)
  t.equal((await dev.post('/profile/password', { currentPassword: 'not it at all, no', newPassword: 'another fine passphrase' })).statusCode, 400)
  t.equal((await dev.post('/profile/email', { email: 'x@example.com', password: 'not it either, no' })).statusCode, 400)
  t.equal((await dev.post('/profile/close', { password: 'still not it, sorry' })).statusCode, 400)
  const locked = await dev.post('/profile/close', { password: DEV.password })
  t.equal(locked.statusCode, 429, 'even the right password waits')
  t.ok(await app.db('developers').where('email_normalized', DEV.email).first(), 'the account is still there')
  t.equal((await new Client(app).signIn(DEV.email, DEV.password)).statusCode, 429, 'and sign-in waits too')
})

t.test('profile routes that check a password or send mail are limited per client address', async (t) => {
  const app = await makeApp(t, { RATE_LIMIT_PER_MINUTE: '5', SIGNIN_FAILURE_LIMIT: '1000' })
  await createAdmin(app)
  await createDeveloper(app)
  const dev = await signedInClient(app, DEV)
  for (const [url, fields] of [
    ['/profile/email', { email: 'not an email', password: DEV.password }],
    ['/profile/password', { currentPassword: 'wrong but long enough', newPassword: 'another fine passphrase' }],
    ['/profile/close', { password: 'wrong but long enough' }]
  ] as const) {
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await dev.post(url, fields)).statusCode)
    t.same(statuses, [400, 400, 400, 400, 400, 429], url)
  }
})
