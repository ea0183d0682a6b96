import t from 'tap'
import { ADMIN, createAdmin, makeApp } from '../helpers'
import { linkIn, startSmtp } from '../smtp'
import { launchBrowser, listen, newPage, screenshot, signInAs } from './browser'

t.test('admin invites; the invitee opens the emailed link, sets a password and lands signed in', async (t) => {
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url })
  await createAdmin(app)
  const base = await listen(app)
  const browser = await launchBrowser(t)

  const { page: admin } = await newPage(browser)
  await signInAs(admin, base, ADMIN)
  await admin.click('nav.subnav >> text=Invitations')
  t.match(await admin.textContent('.empty'), 'No pending invitations')
  await admin.click('text=Invite user')
  await admin.fill('#firstName', 'Ivy')
  await admin.fill('#lastName', 'Invitee')
  await admin.fill('#email', 'ivy@example.com')
  await admin.click('button:has-text("Send invitation")')
  t.match(await admin.textContent('.flash'), 'Invitation sent to Ivy Invitee (ivy@example.com)')
  t.match(await admin.textContent('table.list'), 'ivy@example.com')
  await screenshot(admin, 'invitations-desktop')

  const [mail] = await smtp.waitFor(1)
  // The link points at PUBLIC_URL (localhost:3000 by default); open the same path on the test server.
  const link = new URL(linkIn(mail, 'invitations'))
  const { page: invitee } = await newPage(browser, { width: 390, height: 844 })
  await invitee.goto(`${base}${link.pathname}`)
  t.match(await invitee.textContent('h1'), 'Welcome, Ivy')
  await screenshot(invitee, 'accept-invitation-phone')
  await invitee.fill('#password', 'a password chosen by ivy')
  await invitee.click('button[type=submit]')
  t.equal(new URL(invitee.url()).pathname, '/')
  t.match(await invitee.textContent('.flash'), 'Welcome, Ivy! Your account is active.')
  t.match(await invitee.textContent('h1'), 'Welcome, Ivy')

  await admin.goto(`${base}/admin/email-templates/invitation`)
  await screenshot(admin, 'email-template-desktop')
  await admin.goto(`${base}/admin/emails`)
  t.match(await admin.textContent('table.list'), 'Welcome to the Portico developer portal')
})
