import t from 'tap'
import { ADMIN, Client, createAdmin, makeApp, makeAppWithMail, signedInClient } from '../../helpers'

t.test('settings: organisation name on pages and in emails; audited', async (t) => {
  const { app, smtp } = await makeAppWithMail(t)
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

t.test('sign-in settings: saved from the form, and left as they are by a post without them', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  const page = await admin.get('/admin/settings')
  t.match(page.body, /name="passwordSignIn" value="on" checked/, 'password sign-in is on by default')
  t.match(page.body, /name="signInFields" value="1"/)
  t.equal((await admin.post('/admin/settings', { signupEnabled: 'on', termsOfUse: '', orgName: 'Portico', signInFields: '1', autoRedirect: 'on' })).statusCode, 303)
  let saved = await app.services.settings.getSettings()
  t.same([saved.passwordSignIn, saved.autoRedirect, saved.requireAdminMfa], [false, true, false])
  // An older script's post (the first three fields only) changes none of them.
  t.equal((await admin.post('/admin/settings', { signupEnabled: 'on', termsOfUse: '', orgName: 'Acme' })).statusCode, 303)
  saved = await app.services.settings.getSettings()
  t.same([saved.orgName, saved.passwordSignIn, saved.autoRedirect], ['Acme', false, true])
  const audit = await app.db('audit_events').where('action', 'settings.changed').orderBy('id').pluck('target_label')
  t.match(audit[0], /passwordSignIn, autoRedirect/, 'the audit names what changed')
})
