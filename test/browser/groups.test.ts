import t from 'tap'
import { ADMIN, DEV, createAdmin, createDeveloper, makeApp } from '../helpers'
import { launchBrowser, listen, newPage, screenshot, signInAs } from './browser'

t.test('admin creates a group, adds a developer to it, and sees it on the developer page', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const base = await listen(app)
  const browser = await launchBrowser(t)
  const { page } = await newPage(browser)

  await signInAs(page, base, ADMIN)
  await page.click('nav.subnav >> text=Groups')
  await page.fill('#name', 'Partners')
  await page.fill('#description', 'External partner teams')
  await page.click('button:has-text("Create group")')
  t.match(await page.textContent('.flash'), 'The group Partners was created.')

  await page.fill('#email', DEV.email)
  await page.click('button:has-text("Add member")')
  t.match(await page.textContent('.flash'), `${DEV.email} was added to the group.`)
  t.match(await page.textContent('table.list'), 'Dev Eloper')
  await screenshot(page, 'group-desktop')

  await page.click('table.list >> text=Dev Eloper')
  t.equal(new URL(page.url()).pathname, `/admin/developers/${dev.id}`)
  t.match(await page.textContent('.chips'), 'Partners')
  t.match(await page.textContent('header nav'), 'Ada', 'the header still names the signed-in administrator')
  t.match(await page.textContent('nav.subnav'), 'Developers')
  await screenshot(page, 'developer-details-desktop')

  await page.goto(`${base}/admin/audit`)
  t.match(await page.textContent('table.list'), 'group.member-added')
  await screenshot(page, 'audit-desktop')
})
