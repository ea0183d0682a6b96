import t from 'tap'
import { buildApp } from '../../../src/app'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, makeConfig, signedInClient } from '../../helpers'
import { linkIn, startSmtp } from '../../smtp'

const NEVER = 3_600_000 // delivery only when the test flushes

/** Every text column of every row of the outbox, as one string: what a copy of the database holds. */
async function outboxDump (app: Awaited<ReturnType<typeof makeApp>>): Promise<string> {
  return JSON.stringify(await app.db('outbox_emails').select())
}

t.test('a reset link is sealed at rest, hidden from administrators, and dropped once delivered', async (t) => {
  // A slow server: the email is still on its way while the administrator looks at it.
  const smtp = await startSmtp(t, 0, 3000)
  const app = await makeApp(t, { SMTP_URL: smtp.url }, { mailPollMs: NEVER })
  const adminAccount = await createAdmin(app)
  await createDeveloper(app)
  // Even an admin who puts the link in the subject does not get it stored in clear.
  const template = await app.services.templates.getTemplate('password-reset')
  await app.services.templates.saveTemplate('password-reset', { subject: 'Reset your password: $ConfirmUrl', body: template.body, enabled: true }, { id: adminAccount.id, label: adminAccount.email, ip: null })
  t.equal((await new Client(app).post('/password-reset', { email: DEV.email })).statusCode, 200)
  await app.services.background.idle()
  const row = await app.db('outbox_emails').where('template', 'password-reset').first()
  t.ok(row.sealed_links, 'the link is kept sealed until delivery')
  t.notMatch(row.subject + row.text_body + row.html_body, /password-reset\/[A-Za-z0-9_-]{43}/, 'no link in the stored subject or bodies')

  const admin = await signedInClient(app, ADMIN)
  const queued = await admin.get(`/admin/emails/${row.id as number}`)
  t.equal(queued.statusCode, 200)
  t.notMatch(queued.body, /password-reset\/[A-Za-z0-9_-]{43}/, "another account's reset link is never shown")
  t.match(queued.body, /\[link hidden: only the recipient can open it\]/)

  await app.services.mailSender.flush()
  const [mail] = await smtp.waitForSubject(/password/i)
  const link = linkIn(mail, 'password-reset')
  t.equal(mail.subject, `Reset your password: ${link}`, 'the subject gets its link back when sent')
  t.match(mail.html || '', new RegExp(`href="${link}"`), 'the HTML part has the real link too')
  const token = link.split('/').pop() ?? ''
  t.notMatch(await outboxDump(app), token, 'no copy of the token in the database')
  const sent = await app.db('outbox_emails').where('id', row.id).first()
  t.equal(sent.status, 'sent')
  t.equal(sent.sealed_links, null, 'scrubbed once delivered')
  t.match((await admin.get(`/admin/emails/${row.id as number}`)).body, /\[link removed after delivery\]/, 'the record of the email stays')
  t.equal((await new Client(app).get(new URL(link).pathname)).statusCode, 200, 'the delivered link works')
})

t.test('without SMTP: the invitation link is shown to administrators; reset and confirmation links are not', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await createDeveloper(app)
  const admin = await signedInClient(app, ADMIN)
  await admin.post('/admin/invitations', { firstName: 'Ivy', lastName: 'Invitee', email: 'ivy@example.com' })
  await new Client(app).post('/password-reset', { email: DEV.email })
  await new Client(app).post('/signup', { firstName: 'Sam', lastName: 'Signup', email: 'sam@example.com', password: 'a perfectly fine passphrase' })
  await app.services.background.idle()
  const rows = await app.db('outbox_emails').select('id', 'template')
  const pageOf = async (template: string): Promise<string> => (await admin.get(`/admin/emails/${rows.find((r) => r.template === template)?.id as number}`)).body
  t.match(await pageOf('invitation'), /\/invitations\/[A-Za-z0-9_-]{43}/)
  t.notMatch(await pageOf('password-reset'), /\/password-reset\/[A-Za-z0-9_-]{43}/)
  t.notMatch(await pageOf('signup-confirmation'), /\/confirm\/[A-Za-z0-9_-]{43}/)
  t.notMatch(await outboxDump(app), /\/(invitations|password-reset|confirm)\/[A-Za-z0-9_-]{43}/, 'nothing readable in the database')
})

t.test('with another KEY_SECRET on the same database the app does not start, so no sealed email goes out broken', async (t) => {
  const smtp = await startSmtp(t)
  // Written without SMTP (so it waits), then an instance with a different KEY_SECRET tries to start.
  const config = await makeConfig(t, { KEY_SECRET: 'k'.repeat(40) })
  const first = await buildApp(config, { mailPollMs: NEVER })
  await createAdmin(first)
  await (await signedInClient(first, ADMIN)).post('/admin/invitations', { firstName: 'Ivy', lastName: 'Invitee', email: 'ivy@example.com' })
  await first.close()
  await t.rejects(buildApp({ ...config, smtpUrl: smtp.url, keySecret: 'x'.repeat(40) }, { mailPollMs: NEVER }), { message: /^KEY_SECRET: / })
  t.equal(smtp.messages.length, 0)
  // With the right secret it starts, and the email goes out whole.
  const third = await buildApp({ ...config, smtpUrl: smtp.url }, { mailPollMs: NEVER })
  t.teardown(async () => await third.close())
  await third.services.mailSender.flush()
  t.equal(smtp.messages.length, 1)
  t.match(smtp.messages[0].text, /\/invitations\/[A-Za-z0-9_-]{43}/)
})

t.test('KEY_SECRET is generated once into the data folder, like the session secret', async (t) => {
  const config = await makeConfig(t)
  t.ok(config.keySecret.length >= 32)
  t.not(config.keySecret, config.sessionSecret)
  const again = await makeConfig(t, { DATA_DIR: config.dataDir })
  t.equal(again.keySecret, config.keySecret)
})
