import t, { type Test } from 'tap'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { TestClock } from '../../clock'
import { linkIn, startSmtp } from '../../smtp'

async function setup (t: Test, clock = new TestClock()) {
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url }, { clock })
  await createAdmin(app)
  const dev = await createDeveloper(app)
  return { app, smtp, clock, dev }
}

async function sessionsOf (app: Awaited<ReturnType<typeof setup>>['app'], id: number): Promise<number> {
  return Number((await app.db('sessions').where('account_id', id).count({ n: '*' }).first())?.n)
}

t.test('profile: view and edit the name', async (t) => {
  const { app } = await setup(t)
  const client = await signedInClient(app, DEV)
  const page = await client.get('/profile')
  t.match(page.body, /value="Dev"/)
  t.equal((await client.post('/profile', { firstName: 'Devin', lastName: '<O\'Neil>' })).statusCode, 303)
  const after = await client.get('/profile')
  t.match(after.body, /Your name was saved/)
  t.match(after.body, /value="&lt;O&#39;Neil&gt;"/)
  const bad = await client.post('/profile', { firstName: '', lastName: 'x' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Enter the first name/)
  t.equal((await new Client(app).get('/profile')).statusCode, 303, 'signed-out visitors go to /signin')
})

t.test('change email: needs the current password; a link to the new address, a notice to the old; applies only when confirmed', async (t) => {
  const { app, smtp, dev } = await setup(t)
  const client = await signedInClient(app, DEV)
  const wrong = await client.post('/profile/email', { email: 'dev.new@example.com', password: 'not my password at all' })
  t.equal(wrong.statusCode, 400)
  t.match(wrong.body, /That is not your current password/)
  t.match(wrong.body, /value="dev\.new@example\.com"/, 'the new address is kept')
  t.equal((await client.post('/profile/email', { email: 'dev.new@example.com' })).statusCode, 400, 'the password is required')

  // A reset link issued to the old address before the change.
  t.equal((await new Client(app).post('/password-reset', { email: DEV.email })).statusCode, 200)
  const [reset] = await smtp.waitForSubject(/password/i)

  const res = await client.post('/profile/email', { email: 'dev.new@example.com', password: DEV.password })
  t.equal(res.statusCode, 303)
  t.match((await client.get('/profile')).body, /A confirmation link is on its way to dev\.new@example\.com/)
  const [mail] = await smtp.waitForSubject(/Confirm your new email/)
  t.equal(mail.to && !Array.isArray(mail.to) ? mail.to.value[0].address : null, 'dev.new@example.com')
  const [notice] = await smtp.waitForSubject(/email address is being changed/)
  t.equal(notice.to && !Array.isArray(notice.to) ? notice.to.value[0].address : null, DEV.email, 'the old address is told')
  t.match(notice.text ?? '', /dev\.new@example\.com/)
  t.match(notice.text ?? '', /\/password-reset/, 'with how to secure the account')
  t.equal((await app.db('developers').where('id', dev.id).first()).email, DEV.email, 'unchanged until confirmed')

  const path = new URL(linkIn(mail, 'profile/email')).pathname
  t.match((await client.get(path)).body, /Use <strong>dev\.new@example\.com<\/strong>/)
  t.equal((await app.db('developers').where('id', dev.id).first()).email, DEV.email, 'GET changes nothing')
  t.equal((await client.post(path)).statusCode, 303)
  t.equal((await app.db('developers').where('id', dev.id).first()).email_normalized, 'dev.new@example.com')
  t.equal((await new Client(app).signIn('dev.new@example.com', DEV.password)).statusCode, 303)
  t.equal((await client.post(path)).statusCode, 404, 'single use')
  t.equal((await new Client(app).get(new URL(linkIn(reset, 'password-reset')).pathname)).statusCode, 404, 'reset links sent to the old address end with it')

  await client.post('/profile/email', { email: ADMIN.email, password: DEV.password })
  await app.services.background.idle()
  await app.services.mailSender.flush()
  t.equal(smtp.messages.filter((m) => m.subject?.startsWith('Confirm your new email')).length, 1, 'a taken address gets no link')
  const same = await client.post('/profile/email', { email: 'DEV.NEW@example.com', password: DEV.password })
  t.equal(same.statusCode, 400)
  t.match(same.body, /already your email address/)
})

t.test('change password: needs the current one; other sessions end, this one stays', async (t) => {
  const { app, dev } = await setup(t)
  const here = await signedInClient(app, DEV)
  const elsewhere = await signedInClient(app, DEV)
  const before = here.cookies.get('portico_session')
  const wrong = await here.post('/profile/password', { currentPassword: 'not the current one', newPassword: 'an entirely new passphrase' })
  t.equal(wrong.statusCode, 400)
  t.match(wrong.body, /id="currentPassword-error">That is not your current password/)
  const weak = await here.post('/profile/password', { currentPassword: DEV.password, newPassword: 'short' })
  t.match(weak.body, /id="newPassword-error">Use at least 15/)

  const ok = await here.post('/profile/password', { currentPassword: DEV.password, newPassword: 'an entirely new passphrase' })
  t.equal(ok.statusCode, 303)
  t.not(here.cookies.get('portico_session'), before, 'the session is regenerated')
  t.match((await here.get('/profile')).body, /Your other sessions have ended/)
  t.equal((await elsewhere.get('/profile')).statusCode, 303, 'the other session ended')
  t.equal(await sessionsOf(app, dev.id), 1)
  t.equal((await new Client(app).signIn(DEV.email, DEV.password)).statusCode, 400)
  t.equal((await new Client(app).signIn(DEV.email, 'an entirely new passphrase')).statusCode, 303)
})

t.test('password reset: same answer for all emails; one-hour single-use link; every session ends', async (t) => {
  const clock = new TestClock()
  const { app, smtp, dev } = await setup(t, clock)
  const signedIn = await signedInClient(app, DEV)
  const known = await new Client(app).post('/password-reset', { email: 'DEV@example.com' })
  const unknown = await new Client(app).post('/password-reset', { email: 'nobody@example.com' })
  t.equal(known.statusCode, 200)
  t.equal(unknown.statusCode, known.statusCode)
  t.equal(unknown.body.replace(/name="_csrf" value="[^"]+"/g, ''), known.body.replace(/name="_csrf" value="[^"]+"/g, ''), 'the same page')
  const [mail] = await smtp.waitForSubject(/Reset your/)
  await app.services.mailSender.flush()
  t.equal(smtp.messages.filter((m) => m.subject?.startsWith('Reset your')).length, 1, 'only the known email gets a link')
  const path = new URL(linkIn(mail, 'password-reset')).pathname

  const client = new Client(app)
  t.match((await client.get(path)).body, /Choose a new password/)
  t.equal((await client.post(path, { password: 'short' })).statusCode, 400)
  const done = await client.post(path, { password: 'a brand new passphrase' })
  t.equal(done.statusCode, 303)
  t.equal(done.headers.location, '/signin')
  t.equal(await sessionsOf(app, dev.id), 0, 'every session ended')
  t.equal((await signedIn.get('/profile')).statusCode, 303)
  t.equal((await new Client(app).signIn(DEV.email, 'a brand new passphrase')).statusCode, 303)
  t.equal((await new Client(app).get(path)).statusCode, 404, 'single use')

  await new Client(app).post('/password-reset', { email: DEV.email })
  const later = new URL(linkIn((await smtp.waitForSubject(/Reset your/, 2))[1], 'password-reset')).pathname
  clock.advance(61 * 60_000)
  t.equal((await new Client(app).get(later)).statusCode, 410, 'valid one hour')
  t.equal((await new Client(app).post('/password-reset', { email: 'nope' })).statusCode, 400)
})

t.test('close account with the password: removed, farewell email, signed out', async (t) => {
  const { app, smtp, dev } = await setup(t)
  const client = await signedInClient(app, DEV)
  t.match((await client.get('/profile/close')).body, /Close your account\?/)
  const wrong = await client.post('/profile/close', { password: 'not my password at all' })
  t.equal(wrong.statusCode, 400)
  t.ok(await app.db('developers').where('id', dev.id).first())
  const res = await client.post('/profile/close', { password: DEV.password })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/signin?notice=closed')
  t.equal(await app.db('developers').where('id', dev.id).first(), undefined)
  const [farewell] = await smtp.waitForSubject(/is closed/)
  t.equal(farewell.to && !Array.isArray(farewell.to) ? farewell.to.value[0].address : null, DEV.email)
  t.equal((await client.get('/profile')).statusCode, 303)
  t.ok(await app.db('audit_events').where({ action: 'developer.closed-account' }).first())
})

t.test('the last active administrator cannot close their account', async (t) => {
  const { app } = await setup(t)
  const admin = await signedInClient(app, ADMIN)
  const res = await admin.post('/profile/close', { password: ADMIN.password })
  t.equal(res.statusCode, 409)
  t.match(res.body, /last active administrator/)
})

t.test("an admin's delete sends the farewell email when the template is on, not when off", async (t) => {
  const { app, smtp, dev } = await setup(t)
  const admin = await signedInClient(app, ADMIN)
  await admin.post(`/admin/developers/${dev.id}/delete`)
  await smtp.waitForSubject(/is closed/)
  const other = await createDeveloper(app, { firstName: 'O', lastName: 'T', email: 'other@example.com', password: DEV.password })
  const farewell = await app.services.templates.getTemplate('farewell')
  await admin.post('/admin/email-templates/farewell', { subject: farewell.subject, body: farewell.body })
  await admin.post(`/admin/developers/${other.id}/delete`)
  await app.services.mailSender.flush()
  t.equal(smtp.messages.filter((m) => m.subject?.includes('is closed')).length, 1)
})

t.test('settings: organisation name on pages and in emails; audited', async (t) => {
  const { app, smtp } = await setup(t)
  const admin = await signedInClient(app, ADMIN)
  const page = await admin.get('/admin/settings')
  t.match(page.body, /name="signupEnabled" value="on" checked/)
  t.match(page.body, /value="Portico"/)
  t.equal((await admin.post('/admin/settings', { signupEnabled: 'on', termsOfUse: '', orgName: '' })).statusCode, 400)
  t.equal((await admin.post('/admin/settings', { signupEnabled: 'on', termsOfUse: '', orgName: 'Acme & Co' })).statusCode, 303)
  t.match((await new Client(app).get('/')).body, /<title>Developer portal · Acme &amp; Co<\/title>/)
  await admin.post('/admin/invitations', { firstName: 'I', lastName: 'V', email: 'iv@example.com' })
  const [mail] = await smtp.waitForSubject(/invited/)
  t.equal(mail.subject, 'You are invited to the Acme & Co developer portal')
  const audit = await app.db('audit_events').where('action', 'settings.changed').first()
  t.equal(audit.target_label, 'orgName')
})
