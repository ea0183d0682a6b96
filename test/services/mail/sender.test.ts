import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../../src/app'
import { MAX_ATTEMPTS, retryDelayMs } from '../../../src/services/mail/sender'
import { ADMIN, Client, createAdmin, makeApp, makeConfig, signedInClient } from '../../helpers'
import { TestClock } from '../../clock'
import { freePort, linkIn, startSmtp } from '../../smtp'

const INVITEE = { firstName: 'Ivy', lastName: 'Invitee', email: 'ivy@example.com' }
const NEVER = 3_600_000 // background polling out of the way: these tests drive the sender by hand

async function outboxRow (app: FastifyInstance) {
  return await app.db('outbox_emails').orderBy('id', 'desc').first()
}

t.test('backoff: first retry within 10 seconds, doubling, capped at 10 minutes', async (t) => {
  t.equal(retryDelayMs(1), 5_000)
  t.equal(retryDelayMs(2), 10_000)
  t.equal(retryDelayMs(3), 20_000)
  t.equal(retryDelayMs(8), 600_000)
  t.equal(retryDelayMs(9), 600_000)
})

t.test('SMTP down, then up: nothing is lost, the email is delivered on a retry', async (t) => {
  const clock = new TestClock()
  const port = await freePort()
  const app = await makeApp(t, { SMTP_URL: `smtp://127.0.0.1:${port}` }, { clock, mailPollMs: NEVER })
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  t.equal((await admin.post('/admin/invitations', INVITEE)).statusCode, 303, 'the invitation is made while SMTP is down')
  await app.services.mailSender.flush()
  let row = await outboxRow(app)
  t.equal(row.status, 'queued')
  t.equal(row.attempts, 1)
  t.match(row.last_error, /ECONNREFUSED/)
  const wait = Date.parse(row.next_attempt_at) - clock.now().getTime()
  t.ok(wait > 0 && wait <= 10_000, `next attempt within 10 s (${wait} ms)`)
  const emails = await admin.get('/admin/emails')
  t.match(emails.body, /Retrying/)
  t.match(emails.body, /ECONNREFUSED/)

  const smtp = await startSmtp(t, port)
  await app.services.mailSender.flush()
  t.equal(smtp.messages.length, 0, 'not before its time')
  clock.advance(10_000)
  await app.services.mailSender.flush()
  const [mail] = await smtp.waitFor(1)
  t.equal(mail.subject, 'You are invited to the Portico developer portal')
  row = await outboxRow(app)
  t.equal(row.status, 'sent')
  t.equal(row.attempts, 2)
  t.ok(row.sent_at)
  const accept = await new Client(app).get(new URL(linkIn(mail, 'invitations')).pathname)
  t.equal(accept.statusCode, 200, 'the invitation survived the outage')
})

t.test('after the last attempt the email is marked failed with the SMTP error', async (t) => {
  const clock = new TestClock()
  const port = await freePort()
  const app = await makeApp(t, { SMTP_URL: `smtp://127.0.0.1:${port}` }, { clock, mailPollMs: NEVER })
  await createAdmin(app)
  await (await signedInClient(app, ADMIN)).post('/admin/invitations', INVITEE)
  for (let i = 0; i < MAX_ATTEMPTS + 2; i++) {
    await app.services.mailSender.flush()
    clock.advance(600_000)
  }
  const row = await outboxRow(app)
  t.equal(row.status, 'failed')
  t.equal(row.attempts, MAX_ATTEMPTS)
  t.match(row.last_error, /ECONNREFUSED/)
  const admin = await signedInClient(app, ADMIN)
  const page = await admin.get(`/admin/emails/${row.id as number}`)
  t.match(page.body, /Failed/)
  t.match((await admin.get('/admin')).body, /<span class="count">1<\/span> failed email/, 'the overview says so')
  t.match(page.body, /ECONNREFUSED/)
})

t.test('a restart with queued mail delivers it', async (t) => {
  const port = await freePort()
  const config = await makeConfig(t, { SMTP_URL: `smtp://127.0.0.1:${port}` })
  const first = await buildApp(config, { mailPollMs: NEVER })
  await createAdmin(first)
  await (await signedInClient(first, ADMIN)).post('/admin/invitations', INVITEE)
  await first.services.mailSender.flush()
  t.equal((await outboxRow(first)).status, 'queued')
  await first.close()

  const smtp = await startSmtp(t, port)
  const clock = new TestClock()
  clock.advance(60_000)
  const second = await buildApp(config, { clock, mailPollMs: 50 })
  t.teardown(async () => await second.close())
  const [mail] = await smtp.waitFor(1)
  t.equal(mail.to && !Array.isArray(mail.to) ? mail.to.value[0].address : null, 'ivy@example.com')
  // The server has the message a moment before the sender, having its answer, marks the row.
  for (let waited = 0; (await outboxRow(second)).status === 'sending' && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal((await outboxRow(second)).status, 'sent')
})

t.test('two Portico processes on one database never send an email twice', async (t) => {
  const smtp = await startSmtp(t)
  const config = await makeConfig(t, { SMTP_URL: smtp.url })
  const a = await buildApp(config, { mailPollMs: NEVER })
  t.teardown(async () => await a.close())
  const b = await buildApp(config, { mailPollMs: NEVER })
  t.teardown(async () => await b.close())
  const now = new Date().toISOString()
  const rows = Array.from({ length: 30 }, (_, i) => ({
    template: 'welcome', to_address: `user${i}@example.com`, to_name: `User ${i}`, subject: `Email ${i}`, text_body: 'Hello', html_body: '<p>Hello</p>',
    status: 'queued', attempts: 0, next_attempt_at: now, created_at: now
  }))
  await a.db.batchInsert('outbox_emails', rows, 10)
  await Promise.all([a.services.mailSender.flush(), b.services.mailSender.flush(), a.services.mailSender.flush(), b.services.mailSender.flush()])
  await smtp.waitFor(30)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const subjects = smtp.messages.map((m) => m.subject)
  t.equal(subjects.length, 30, 'each email once')
  t.equal(new Set(subjects).size, 30)
  t.equal(Number((await a.db('outbox_emails').where('status', 'sent').count({ n: '*' }).first())?.n), 30)
})

t.test('without SMTP_URL emails wait in the outbox and an admin can read each one in full', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  await admin.post('/admin/invitations', INVITEE)
  t.match((await admin.get('/admin/invitations')).body, /No SMTP server is configured/)
  const list = await admin.get('/admin/emails')
  t.match(list.body, /Not sent: no SMTP configured/)
  t.match(list.body, /ivy@example\.com/)
  t.match(list.body, /invitation/)
  const row = await outboxRow(app)
  t.equal(row.status, 'queued')
  t.equal(row.attempts, 0)
  const page = await admin.get(`/admin/emails/${row.id as number}`)
  t.equal(page.statusCode, 200)
  const link = /http:\/\/localhost:3000\/invitations\/([A-Za-z0-9_-]{43})/.exec(page.body)
  t.ok(link, 'the invitation link can be copied from the page')
  t.equal((await new Client(app).get(`/invitations/${link?.[1] ?? ''}`)).statusCode, 200)
  t.equal((await admin.get('/admin/emails/999')).statusCode, 404)
  t.equal((await admin.get('/admin/emails?page=x')).statusCode, 400)
})
