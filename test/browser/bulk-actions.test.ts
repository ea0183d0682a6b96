import t from 'tap'
import { ADMIN, countOf, createAdmin, makeApp } from '../helpers'
import { launchBrowser, listen, newPage, screenshot, signInAs } from './browser'

t.test('with JavaScript off: select all on the page, bulk block, then bulk delete through its confirmation page', async (t) => {
  const app = await makeApp(t)
  const admin = await createAdmin(app)
  const actor = { id: admin.id, label: admin.email, ip: null }
  for (let i = 0; i < 4; i++) {
    await app.services.accounts.createAccount({ firstName: 'Dev', lastName: `Number ${i}`, email: `dev${i}@example.com`, password: 'a long and quiet river bend' }, [], actor)
  }
  const base = await listen(app)
  const browser = await launchBrowser(t)
  const { page } = await newPage(browser)
  await signInAs(page, base, ADMIN)
  await page.goto(`${base}/admin/developers?q=dev`)
  t.equal(await page.locator('input[name=ids]:checked').count(), 0)

  await page.click('button:has-text("Select all on this page")')
  t.match(new URL(page.url()).search, /select=all/)
  t.match(new URL(page.url()).search, /q=dev/, 'the filter is kept')
  t.equal(await page.locator('input[name=ids]:checked').count(), 4, 'every row ticked, without a script')
  await page.uncheck('input[name=ids] >> nth=3')
  await page.selectOption('#action', 'block')
  await screenshot(page, 'bulk-select-all-desktop')
  await page.click('form.bulk button.primary')
  t.match(await page.textContent('h1'), 'Block: 3 of 3 done')
  await screenshot(page, 'bulk-result-desktop')
  t.equal(await countOf(app.db('developers').where('state', 'blocked')), 3)

  await page.click('text=Back to Developers')
  t.match(new URL(page.url()).search, /q=dev/)
  await page.click('button:has-text("Select all on this page")')
  await page.selectOption('#action', 'delete')
  await page.click('form.bulk button.primary')
  t.match(await page.textContent('h1'), 'Delete 4 developers?')
  t.match(await page.textContent('main'), 'dev3@example.com')
  t.equal(await countOf(app.db('developers')), 5, 'nothing deleted before the confirmation')
  await screenshot(page, 'bulk-delete-confirm-desktop')
  await page.click('button:has-text("Delete 4 developers")')
  t.match(await page.textContent('h1'), 'Delete: 4 of 4 done')
  t.equal(await countOf(app.db('developers')), 1)

  const { page: phone } = await newPage(browser, { width: 320, height: 800 })
  for (const cookie of await page.context().cookies()) await phone.context().addCookies([cookie])
  await phone.goto(`${base}/admin/developers?select=all`)
  await screenshot(phone, 'bulk-list-320')
  await phone.goto(`${base}/admin/api-tokens`)
  await screenshot(phone, 'api-tokens-320')
})
