import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../../src/app'
import { loggerOptions } from '../../../src/logging'
import { TEMPLATE_INFO, renderTemplate, unknownPlaceholders } from '../../../src/services/mail/templates'
import { ADMIN, Client, createAdmin, makeApp, makeConfig, signedInClient } from '../../helpers'
import { linkIn, startSmtp } from '../../smtp'

const INVITEE = { firstName: '<b>Bo</b>', lastName: 'O\'Hara & Sons', email: 'bo@example.com' }

t.test('the five templates with their reference names, on by default, with a preview', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  const list = await admin.get('/admin/email-templates')
  for (const name of ['Invite user', 'New developer account confirmation', 'Developer welcome letter', 'Password change confirmation', 'Developer farewell letter']) {
    t.match(list.body, name)
  }
  const edit = await admin.get('/admin/email-templates/invitation')
  t.equal(edit.statusCode, 200)
  t.match(edit.body, /name="subject" type="text" value="You are invited to the \$OrganizationName developer portal"/)
  t.match(edit.body, /Hello Ada Lovelace,/, 'preview with sample data')
  t.match(edit.body, /name="enabled" value="on" checked/)
  t.equal((await admin.get('/admin/email-templates/nope')).statusCode, 404)
})

t.test('admin text is never executed and substituted values are escaped, in both parts', async (t) => {
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url, ORG_NAME: 'Acme <APIs>' })
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  const body = 'Hi $DevFirstName $DevLastName,\n\n<%= process.pid %> and ${1+1} and <%~ it %> and {{x}}\n\nJoin: $ConfirmUrl\n\n$OrganizationName'
  const saved = await admin.post('/admin/email-templates/invitation', { subject: 'Join $OrganizationName, $DevFirstName', body, enabled: 'on' })
  t.equal(saved.statusCode, 303)
  t.match((await admin.get('/admin/email-templates/invitation')).body, /template was saved/)
  t.ok(await app.db('audit_events').where({ action: 'template.edited', target_label: 'invitation' }).first(), 'audited')

  await admin.post('/admin/invitations', INVITEE)
  const [mail] = await smtp.waitFor(1)
  t.equal(mail.subject, 'Join Acme <APIs>, <b>Bo</b>')
  t.match(mail.text, '<%= process.pid %> and ${1+1} and <%~ it %> and {{x}}', 'arrives literally')
  t.notMatch(mail.text, String(process.pid))
  t.match(mail.text, "Hi <b>Bo</b> O'Hara & Sons,")
  const html = String(mail.html)
  t.match(html, '&#60;%= process.pid %&#62; and ${1+1}')
  t.match(html, 'Hi &#60;b&#62;Bo&#60;/b&#62; O&#39;Hara &#38; Sons,')
  t.notMatch(html, '<b>Bo</b>', 'no markup from a value')
  t.match(html, /<a href="http:\/\/localhost:3000\/invitations\/[\w-]{43}">/, 'the link is a link')
  t.match(html, 'Acme &#60;APIs&#62;')
  t.ok(linkIn(mail, 'invitations'))
})

t.test('unknown placeholders and empty fields are reported on save, the input kept', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  const res = await admin.post('/admin/email-templates/welcome', { subject: 'Hi $Nickname', body: 'Go to $ConfirmUrl and $DevPortalUrl', enabled: 'on' })
  t.equal(res.statusCode, 400)
  t.match(res.body, /Unknown placeholder: \$Nickname/)
  t.match(res.body, /Unknown placeholder: \$ConfirmUrl\. This template knows/, '$ConfirmUrl is not part of the welcome letter')
  t.match(res.body, /Go to \$ConfirmUrl and \$DevPortalUrl<\/textarea>/, 'input kept')
  const empty = await admin.post('/admin/email-templates/welcome', { subject: ' ', body: '' })
  t.equal(empty.statusCode, 400)
  t.match(empty.body, /Enter a subject/)
  t.match(empty.body, /Enter the text of the email/)
  t.equal(await app.db('email_templates').first(), undefined, 'nothing saved')
  t.same(unknownPlaceholders('farewell', '$DevFirstName $Foo $Foo'), ['Foo'])
  t.same(TEMPLATE_INFO.invitation.placeholders, ['DevFirstName', 'DevLastName', 'OrganizationName', 'DevPortalUrl', 'ConfirmUrl', 'ExpiresAt'])
})

t.test('switching a template off: welcome is skipped; an invitation cannot go without its email', async (t) => {
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url })
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  const welcome = await app.services.templates.getTemplate('welcome')
  t.equal((await admin.post('/admin/email-templates/welcome', { subject: welcome.subject, body: welcome.body })).statusCode, 303, 'saved switched off')
  t.match((await admin.get('/admin/email-templates')).body, /Off/)

  await admin.post('/admin/invitations', { firstName: 'Ivy', lastName: 'Invitee', email: 'ivy@example.com' })
  const path = new URL(linkIn((await smtp.waitFor(1))[0], 'invitations')).pathname
  const invitee = new Client(app)
  await invitee.get(path)
  t.equal((await invitee.post(path, { password: 'a password chosen by ivy' })).statusCode, 303)
  await app.services.mailSender.flush()
  t.equal(smtp.messages.length, 1, 'no welcome email')

  const invitation = await app.services.templates.getTemplate('invitation')
  await admin.post('/admin/email-templates/invitation', { subject: invitation.subject, body: invitation.body })
  const refused = await admin.post('/admin/invitations', { firstName: 'Al', lastName: 'Other', email: 'al@example.com' })
  t.equal(refused.statusCode, 409)
  t.match(refused.body, /switched off/)
  t.equal(await app.db('developers').where('email_normalized', 'al@example.com').first(), undefined, 'nothing half-done')
})

t.test('reset to default brings the default text back', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  await admin.post('/admin/email-templates/farewell', { subject: 'Bye $DevFirstName', body: 'Bye.', enabled: 'on' })
  t.match((await admin.get('/admin/email-templates/farewell')).body, /Reset to the default text/)
  t.equal((await admin.post('/admin/email-templates/farewell/reset')).statusCode, 303)
  const page = await admin.get('/admin/email-templates/farewell')
  t.match(page.body, /The default text is back/)
  t.match(page.body, /value="Your \$OrganizationName developer account is closed"/)
  t.ok(await app.db('audit_events').where({ action: 'template.reset' }).first())
})

t.test('renderTemplate keeps unknown $words as they are and escapes the subject in the HTML title', async (t) => {
  const out = renderTemplate('Hi <$DevFirstName>', 'Price: $5 for $Who\n\nBye', { DevFirstName: 'A&B' })
  t.equal(out.subject, 'Hi <A&B>')
  t.match(out.text, 'Price: $5 for $Who')
  t.match(out.html, '<title>Hi &#60;A&#38;B&#62;</title>')
  t.match(out.html, '<p>Bye</p>')
})

t.test('invitation tokens never reach the logs', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const smtp = await startSmtp(t)
  const app = await buildApp(await makeConfig(t, { SMTP_URL: smtp.url }), { logger: { ...loggerOptions('debug'), stream } })
  t.teardown(async () => await app.close())
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  await admin.post('/admin/invitations', { firstName: 'Ivy', lastName: 'Invitee', email: 'ivy@example.com' })
  const link = linkIn((await smtp.waitFor(1))[0], 'invitations')
  const token = link.split('/').at(-1) ?? ''
  const invitee = new Client(app)
  await invitee.get(new URL(link).pathname)
  await invitee.post(new URL(link).pathname, { password: 'a password chosen by ivy' })
  const all = lines.join('')
  t.match(all, /\/invitations\/\[token\]/, 'the request is logged, its token replaced')
  t.notMatch(all, token)
  t.notMatch(all, 'a password chosen by ivy')
})
