import t from 'tap'
import { ADMIN, Client, makeAppWithMail, signedInClient } from '../../helpers'

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
