import t, { type Test } from 'tap'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { TestClock } from '../../clock'
import { linkIn, startSmtp } from '../../smtp'

const INVITEE = { firstName: 'Ivy', lastName: 'Invitee', email: 'ivy@example.com' }
const PASSWORD = 'a password chosen by ivy'

async function setup (t: Test, clock = new TestClock()) {
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url, PUBLIC_URL: 'http://portal.example.com' }, { clock })
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  return { app, smtp, admin, clock }
}


t.test('invite → email → accept → active and signed in', async (t) => {
  const { app, smtp, admin } = await setup(t)
  const res = await admin.post('/admin/invitations', INVITEE)
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/admin/invitations')
  const list = await admin.get('/admin/invitations')
  t.match(list.body, /Invitation sent to Ivy Invitee \(ivy@example\.com\)\. The link works until \d{4}-/)
  t.match(list.body, /ivy@example\.com/)
  t.match(list.body, /Ada Admin|ada@example\.com/, 'invited by whom')
  t.notMatch((await admin.get('/admin/developers')).body, /ivy@example\.com/, 'not a developer until accepted')

  const [mail] = await smtp.waitFor(1)
  t.equal(mail.to && !Array.isArray(mail.to) ? mail.to.value[0].address : null, 'ivy@example.com')
  t.equal(mail.subject, 'You are invited to the Portico developer portal')
  t.ok(mail.html, 'an HTML part')
  t.ok(mail.text, 'a plain-text part')
  const link = linkIn(mail, 'invitations')
  t.match(link, /^http:\/\/portal\.example\.com\/invitations\//, 'built from PUBLIC_URL')
  t.match(mail.text, /The link works until \d{4}-\d\d-\d\d \d\d:\d\d UTC/)
  const token = link.split('/').at(-1) ?? ''
  const stored = await app.db('invitation_tokens').first()
  t.not(stored.token_hash, token, 'only the hash is stored')
  t.equal(stored.token_hash.length, 64)

  const invitee = new Client(app)
  const path = new URL(link).pathname
  const page = await invitee.get(path)
  t.equal(page.statusCode, 200)
  t.match(page.body, /ivy@example\.com/)
  t.equal((await app.db('invitation_tokens').first()).used_at, null, 'GET changes nothing')

  const weak = await invitee.post(path, { password: 'short' })
  t.equal(weak.statusCode, 400)
  t.match(weak.body, /at least 15 characters/)

  const accepted = await invitee.post(path, { password: PASSWORD })
  t.equal(accepted.statusCode, 303)
  t.equal(accepted.headers.location, '/')
  const home = await invitee.get('/')
  t.match(home.body, /Welcome, Ivy/)
  const row = await app.db('developers').where('email_normalized', 'ivy@example.com').first()
  t.equal(row.state, 'active')
  const groups = await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').where('developer_id', row.id).pluck('system_key')
  t.same(groups, ['developers'])
  const [, welcome] = await smtp.waitFor(2)
  t.equal(welcome.subject, 'Welcome to the Portico developer portal')
  t.match((await admin.get('/admin/developers')).body, /ivy@example\.com/, 'listed once accepted')
  t.equal((await new Client(app).get(path)).statusCode, 404, 'single use')
  t.equal((await new Client(app).post(path, { password: 'another password for ivy' })).statusCode, 404)
  for (const action of ['developer.invited', 'invitation.accepted']) t.ok(await app.db('audit_events').where({ action, target_id: row.id }).first(), action)
})

t.test('inviting an existing account is refused; inviting a pending one resends', async (t) => {
  const { app, smtp, admin } = await setup(t)
  await createDeveloper(app)
  const taken = await admin.post('/admin/invitations', { ...INVITEE, email: ' DEV@example.com' })
  t.equal(taken.statusCode, 409)
  t.match(taken.body, /already exists/)
  t.match(taken.body, /value=" DEV@example.com"|value="DEV@example.com"/)

  await admin.post('/admin/invitations', INVITEE)
  const first = linkIn((await smtp.waitForSubject(/invited/))[0], 'invitations')
  const again = await admin.post('/admin/invitations', { ...INVITEE, email: 'IVY@example.com' })
  t.equal(again.statusCode, 303)
  t.match((await admin.get('/admin/invitations')).body, /already had a pending invitation: a new link was sent/)
  const second = linkIn((await smtp.waitForSubject(/invited/, 2))[1], 'invitations')
  t.not(second, first)
  t.equal((await new Client(app).get(new URL(first).pathname)).statusCode, 404, 'the old link ended')
  t.equal((await new Client(app).get(new URL(second).pathname)).statusCode, 200)
  t.equal(Number((await app.db('developers').where('email_normalized', 'ivy@example.com').count({ n: '*' }).first())?.n), 1)
  const bad = await admin.post('/admin/invitations', { firstName: '', lastName: 'X', email: 'nope' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Enter the first name/)
})

t.test('resend and revoke from the invitations page', async (t) => {
  const { app, smtp, admin } = await setup(t)
  await admin.post('/admin/invitations', INVITEE)
  const first = new URL(linkIn((await smtp.waitFor(1))[0], 'invitations')).pathname
  const account = await app.db('developers').where('email_normalized', 'ivy@example.com').first()
  t.match((await admin.get('/admin/invitations')).body, new RegExp(`/admin/invitations/${account.id as number}/resend`))

  t.equal((await admin.post(`/admin/invitations/${account.id as number}/resend`)).statusCode, 303)
  const second = new URL(linkIn((await smtp.waitFor(2))[1], 'invitations')).pathname
  t.equal((await new Client(app).get(first)).statusCode, 404, 'resend ends the old link at once')
  t.ok(await app.db('audit_events').where({ action: 'invitation.resent' }).first())

  const confirm = await admin.get(`/admin/invitations/${account.id as number}/revoke`)
  t.match(confirm.body, /Revoke this invitation\?/)
  t.equal((await admin.post(`/admin/invitations/${account.id as number}/revoke`)).statusCode, 303)
  t.match((await admin.get('/admin/invitations')).body, /The invitation of ivy@example\.com was revoked/)
  t.equal((await new Client(app).get(second)).statusCode, 404, 'revoke ends the link')
  t.equal(await app.db('developers').where('id', account.id).first(), undefined, 'and removes the pending account')
  t.ok(await app.db('audit_events').where({ action: 'invitation.revoked' }).first())
  t.equal((await admin.post(`/admin/invitations/${account.id as number}/revoke`)).statusCode, 404)
  t.equal((await admin.post('/admin/invitations/abc/resend')).statusCode, 404)
})

t.test('an expired link answers 410 and says to ask for a new invitation', async (t) => {
  const clock = new TestClock()
  const { app, smtp, admin } = await setup(t, clock)
  await admin.post('/admin/invitations', INVITEE)
  const path = new URL(linkIn((await smtp.waitFor(1))[0], 'invitations')).pathname
  clock.advance(47 * 3_600_000)
  t.equal((await new Client(app).get(path)).statusCode, 200, 'still good after 47 hours')
  clock.advance(2 * 3_600_000)
  const expired = await new Client(app).get(path)
  t.equal(expired.statusCode, 410)
  t.match(expired.body, /ask the person who invited you for a new invitation/i)
  const invitee = new Client(app)
  await invitee.get('/signin')
  t.equal((await invitee.post(path, { password: PASSWORD })).statusCode, 410)
  t.match((await admin.get('/admin/invitations')).body, /Expired/)
  t.equal((await app.db('developers').where('email_normalized', 'ivy@example.com').first()).state, 'pending')
})

t.test('unknown or malformed tokens are 404', async (t) => {
  const { app } = await setup(t)
  for (const path of ['/invitations/' + 'A'.repeat(43), '/invitations/short', '/invitations/' + 'x'.repeat(99)]) {
    t.equal((await new Client(app).get(path)).statusCode, 404, path)
  }
})

t.test('two simultaneous accepts of one link: exactly one succeeds', async (t) => {
  const { app, smtp, admin } = await setup(t)
  await admin.post('/admin/invitations', INVITEE)
  const path = new URL(linkIn((await smtp.waitFor(1))[0], 'invitations')).pathname
  const a = new Client(app)
  const b = new Client(app)
  await a.get(path)
  await b.get(path)
  const results = await Promise.all([a.post(path, { password: PASSWORD }), b.post(path, { password: 'a different password for ivy' })])
  t.same(results.map((r) => r.statusCode).sort(), [303, 404])
  await smtp.waitFor(2)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(smtp.messages.filter((m) => m.subject?.startsWith('Welcome')).length, 1, 'one welcome email')
})

t.test('developers cannot reach the invitation pages', async (t) => {
  const { app } = await setup(t)
  await createDeveloper(app)
  const dev = await signedInClient(app, DEV)
  t.equal((await dev.get('/admin/invitations')).statusCode, 403)
  t.equal((await dev.post('/admin/invitations', INVITEE)).statusCode, 403)
  t.equal(await app.db('developers').where('email_normalized', INVITEE.email).first(), undefined)
})

t.test('links are built from PUBLIC_URL, never from the Host header', async (t) => {
  const { smtp, admin } = await setup(t)
  const res = await admin.request({
    method: 'POST',
    url: '/admin/invitations',
    headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: admin.csrf ?? '', ...INVITEE }).toString()
  })
  t.equal(res.statusCode, 303)
  const [mail] = await smtp.waitForSubject(/invited/)
  t.match(linkIn(mail, 'invitations'), /^http:\/\/portal\.example\.com\/invitations\//)
  t.notMatch(mail.text, 'evil.example')
})
