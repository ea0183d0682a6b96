import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ADMIN, DEV, makeAppWithMail } from '../helpers'
import { LIBRARY_YAML } from '../fixtures/openapi'
import { startBackend } from '../fixtures/gateway'
import { launchBrowser, listen, newPage, screenshot, signInAs } from './browser'

t.test('JavaScript off: publish an API with its OpenAPI file, subscribe, reveal and renew a key, find an operation, try it, approve a request', async (t) => {
  const { app, smtp } = await makeAppWithMail(t)
  const base = await listen(app)
  const backend = await startBackend(t)
  const browser = await launchBrowser(t)
  const dir = mkdtempSync(join(tmpdir(), 'portico-upload-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'library.yaml')
  writeFileSync(file, LIBRARY_YAML)

  // The administrator adds the API, uploading its document through the form.
  const { page: adminPage } = await newPage(browser)
  await signInAs(adminPage, base, ADMIN)
  await adminPage.click('nav.subnav >> text=APIs')
  await adminPage.click('text=Add an API')
  await adminPage.fill('#name', 'Library')
  await adminPage.fill('#path', 'library')
  await adminPage.fill('#serviceUrl', `${backend.url}/v2`)
  await adminPage.setInputFiles('#openapiFile', file)
  await adminPage.click('button:has-text("Add API")')
  t.match(await adminPage.textContent('.flash'), 'The API Library was added.')
  t.match(await adminPage.textContent('main'), 'YAML')

  // A published product, seen by Developers, with that API; and an approval-required one.
  for (const [name, approval] of [['Books', false], ['Premium books', true]] as const) {
    await adminPage.click('nav.subnav >> text=Products')
    await adminPage.click('text=Add a product')
    await adminPage.fill('#name', name)
    await adminPage.selectOption('#state', 'published')
    if (approval) await adminPage.check('#approvalRequired')
    await adminPage.click('button:has-text("Add product")')
    t.match(await adminPage.textContent('.flash'), `The product ${name} was added.`)
    await adminPage.selectOption('#apiId', { label: 'Library' })
    await adminPage.click('form[action$="/apis"] button')
    await adminPage.selectOption('#groupId', { label: 'Developers' })
    await adminPage.click('form[action$="/groups"] button')
    t.match(await adminPage.textContent('.flash'), 'Developers can now see the product.')
  }
  await screenshot(adminPage, 'product-admin-desktop')

  // The developer finds the API in the catalog.
  const { page } = await newPage(browser)
  await signInAs(page, base, DEV)
  await page.click('header nav >> text=APIs')
  t.match(await page.textContent('main'), /Library API · version 2\.4\.0 · 34 operations/)
  await page.click('main a:has-text("Library")')
  await page.waitForLoadState('load')
  t.match(await page.textContent('#authenticate + p'), /Ocp-Apim-Subscription-Key/)
  t.equal(await page.locator('ul.tags li').count(), 6)
  await screenshot(page, 'api-reference-desktop', false)

  // Subscribes to Books: active at once; reveals, then renews, the primary key.
  await page.click('.facts a:text-is("Books")')
  await page.fill('#displayName', 'Reading app')
  await page.click('button:has-text("Subscribe")')
  t.match(await page.textContent('.flash'), 'You are subscribed to Books.')
  const primary = page.locator('details:has(summary:has-text("Show primary key")) code')
  t.notOk(await primary.isVisible(), 'the key is hidden until asked for')
  await page.click('summary:has-text("Show primary key")')
  t.ok(await primary.isVisible())
  const before = (await primary.textContent()) ?? ''
  t.match(before, /^[0-9a-f]{32}$/)
  await page.click('a:has-text("Regenerate primary key")')
  t.match(await page.textContent('h1'), 'Regenerate the primary key of Reading app?', 'a confirmation page first')
  await page.click('button:has-text("Regenerate primary key")')
  t.match(await page.textContent('.flash'), 'A new primary key was made for Reading app. The old one no longer works.')
  await page.click('summary:has-text("Show primary key")')
  const after = (await primary.textContent()) ?? ''
  t.match(after, /^[0-9a-f]{32}$/)
  t.not(after, before)
  await screenshot(page, 'subscriptions-desktop')

  // Searches the catalog for an operation, opens it, tries it and reads the answer.
  await page.click('header nav >> text=APIs')
  await page.fill('#catalog-q', 'opening hours')
  await page.click('form[role=search] button')
  t.match(await page.textContent('main [role=status]'), '1 API match “opening hours”.')
  await page.click('text=Operations matching “opening hours”')
  await page.click('main a:has-text("/branches/{branchId}/opening-hours")')
  t.match(await page.textContent('main h1'), /GET\s+\/branches\/\{branchId\}\/opening-hours/)
  t.match(await page.textContent('pre.sample >> nth=0'), `curl -X GET '${app.config.gatewayUrl}/library/branches/`)
  t.ok(await page.locator('table.schema-table').count() > 0, 'parameters and schemas as tables')
  await screenshot(page, 'api-operation-desktop', false)
  const tried = backend.seen.length
  await page.fill('#try-p1', 'central')
  await page.click('button:has-text("Send the request")')
  t.match(await page.textContent('main h1'), /Answer:\s+200/)
  t.match(await page.textContent('main'), /GET http:\/\/localhost:3000\/gateway\/library\/branches\/central\/opening-hours/)
  t.equal(backend.seen.length, tried + 1)
  t.equal(backend.seen[tried].url, '/v2/branches/central/opening-hours')
  t.match(await page.textContent('main'), /"url": "\/v2\/branches\/central\/opening-hours"/, 'the answer\'s body, indented')
  await screenshot(page, 'api-try-answer-desktop', false)

  // Asks for Premium books: submitted, the administrators are mailed.
  await page.click('header nav >> text=Products')
  await page.click('text=Premium books')
  await page.fill('#displayName', 'Premium app')
  await page.click('button:has-text("Ask to subscribe")')
  t.match(await page.textContent('.flash'), 'Your request for Premium books was sent.')
  const [request] = await smtp.waitForSubject(/New subscription request for Premium books/)
  const link = /http:\/\/localhost:3000(\/admin\/subscriptions\/\d+)/.exec(request.text ?? '')?.[1] ?? ''
  t.ok(link)

  // The administrator follows the email's link and approves; the developer is mailed.
  await adminPage.goto(`${base}${link}`)
  await adminPage.click('button:has-text("Approve")')
  t.match(await adminPage.textContent('.flash'), 'Premium app was approved')
  const [approved] = await smtp.waitForSubject(/Your subscription to Premium books is active/)
  t.match(approved.to, { text: /dev@example\.com/ })
  await page.goto(`${base}/subscriptions`)
  t.match(await page.textContent('#subscription-' + link.split('/').pop()), 'Active')

  // At 320 px the reference still reads without sideways scrolling.
  const { page: phone } = await newPage(browser, { width: 320, height: 800 })
  await signInAs(phone, base, DEV)
  const apiId = (await app.db('apis').where('path', 'library').first()).id as number
  await phone.goto(`${base}/apis/${apiId}/operations/createBook`, { waitUntil: 'load' })
  t.match(await phone.textContent('main h1'), /POST\s+\/books/)
  t.ok(await phone.evaluate('document.documentElement.scrollWidth <= document.documentElement.clientWidth') as boolean, 'no sideways scroll at 320 px')
  await screenshot(phone, 'api-reference-320', false)
})
