import t from 'tap'
import { ADMIN, DEV, createAdmin, makeApp } from '../helpers'
import { launchBrowser, listen, newPage, screenshot, signInAs } from './browser'

t.test('admin signs in, adds a developer, blocks them; the developer is sent to /signin', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const base = await listen(app)
  const browser = await launchBrowser(t)

  const { page: admin } = await newPage(browser)
  await signInAs(admin, base, ADMIN)
  t.equal(new URL(admin.url()).pathname, '/admin')
  t.match(await admin.textContent('h1'), 'Publisher portal')

  await admin.click('text=Add user')
  t.equal(new URL(admin.url()).pathname, '/admin/developers/new')
  await admin.fill('#firstName', DEV.firstName)
  await admin.fill('#lastName', DEV.lastName)
  await admin.fill('#email', DEV.email)
  await admin.fill('#password', 'short')
  await admin.click('button:has-text("Add user")')
  t.match(await admin.textContent('#password-error'), 'at least 15 characters', 'message beside the field')
  t.equal(await admin.inputValue('#email'), DEV.email, 'input kept')
  await admin.fill('#password', DEV.password)
  await screenshot(admin, 'add-user-desktop')
  await admin.click('button:has-text("Add user")')
  t.match(await admin.textContent('.flash'), 'Dev Eloper was added and is active.')

  // The developer signs in in their own browser.
  const { page: dev } = await newPage(browser, { width: 390, height: 844 })
  await dev.goto(`${base}/signin`)
  await screenshot(dev, 'signin-phone')
  await dev.fill('#email', DEV.email)
  await dev.fill('#password', DEV.password)
  await dev.click('button[type=submit]')
  t.match(await dev.textContent('h1'), 'Welcome, Dev')

  await admin.click('button:has-text("Block")')
  t.match(await admin.textContent('.flash'), 'is blocked')
  t.match(await admin.textContent('dd .state'), 'Blocked')
  await screenshot(admin, 'developer-blocked-desktop')

  await dev.goto(`${base}/profile`)
  t.equal(new URL(dev.url()).pathname, '/signin', 'the blocked developer is sent to sign in')
  t.match(await dev.textContent('.notice'), 'Please sign in to continue')
  await dev.fill('#email', DEV.email)
  await dev.fill('#password', DEV.password)
  await dev.click('button[type=submit]')
  t.match(await dev.textContent('.error-summary'), 'cannot sign in', 'and cannot sign back in')

  await admin.goto(`${base}/admin/developers`)
  await screenshot(admin, 'developers-desktop')
  const { page: phone } = await newPage(browser, { width: 390, height: 844 })
  for (const cookie of await admin.context().cookies()) await phone.context().addCookies([cookie])
  await phone.goto(`${base}/admin/developers`)
  t.match(await phone.textContent('h1'), 'Developers')
  await screenshot(phone, 'developers-phone')
})
