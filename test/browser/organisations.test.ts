// Organisations in chromium with JavaScript off: a developer creates one, invites a second
// developer who accepts from the email, subscribes the organisation to a product, and both call
// the API with the shared key.
import t from 'tap'
import { DEV, createAdmin, createDeveloper, makeApp } from '../helpers'
import { linkIn, startSmtp } from '../smtp'
import { SYSTEM, startBackend } from '../fixtures/gateway'
import { productFor } from '../fixtures/catalog'
import { launchBrowser, listen, newPage, screenshot, signInAs } from './browser'

const SAM = { firstName: 'Sam', lastName: 'Second', email: 'sam@example.com', password: 'sam has a long password too' }

t.test('create an organisation, invite a developer who accepts, subscribe it, call the API with the shared key', async (t) => {
  const smtp = await startSmtp(t)
  const backend = await startBackend(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url, RATE_LIMIT_PER_MINUTE: '10000' })
  await createAdmin(app)
  await createDeveloper(app)
  await createDeveloper(app, SAM)
  const api = await app.services.apis.createApi({ name: 'Books', path: 'books', serviceUrl: `${backend.url}/v1`, description: '', openapi: '' }, SYSTEM)
  const product = await productFor(app, SYSTEM, { name: 'Team plan' }, [api.id])
  const base = await listen(app)
  const browser = await launchBrowser(t)

  const { page: owner } = await newPage(browser)
  await signInAs(owner, base, DEV)
  await owner.click('header nav >> text=Organisations')
  t.match(await owner.textContent('.empty'), 'You are not in an organisation yet')
  await owner.fill('#name', 'Acme Team')
  await owner.fill('#description', 'We build rockets.')
  await owner.click('button:has-text("Create organisation")')
  t.match(await owner.textContent('.flash'), 'Acme Team was created')
  await owner.fill('#email', SAM.email)
  await owner.click('button:has-text("Send invitation")')
  t.match(await owner.textContent('.flash'), `An invitation to join is on its way to ${SAM.email}`)
  t.match(await owner.textContent('main'), SAM.email, 'listed as pending')
  await screenshot(owner, 'organisation-desktop')

  const [mail] = await smtp.waitForSubject(/invites you to join Acme Team/)
  const link = new URL(linkIn(mail, 'organisations/join'))
  const { page: sam } = await newPage(browser, { width: 390, height: 844 })
  await signInAs(sam, base, SAM)
  await sam.goto(`${base}${link.pathname}`)
  t.match(await sam.textContent('h1'), 'Join Acme Team')
  await sam.click('button:has-text("Join Acme Team")')
  t.match(await sam.textContent('.flash'), 'You joined Acme Team')
  t.match(await sam.textContent('main'), 'You are a member')
  await screenshot(sam, 'organisation-member-phone')

  // The owner subscribes the organisation (the subscribe form's owner).
  await owner.goto(`${base}/products/${product.id}`)
  await owner.fill('#displayName', 'Team app')
  await owner.selectOption('#owner', { label: 'Acme Team' })
  await owner.click('button:has-text("Subscribe")')
  t.match(await owner.textContent('.flash'), 'You are subscribed to Team plan')

  // Sam sees the organisation's key and calls the API with it.
  await sam.goto(`${base}/subscriptions`)
  const card = sam.locator('section.subscription', { hasText: 'Team app' })
  t.match(await card.textContent(), 'Acme Team')
  t.equal(await card.locator('a:has-text("Regenerate")').count(), 0, 'a member does not manage it')
  const key = (await card.locator('code.secret').first().textContent()) ?? ''
  t.match(key, /^[0-9a-f]{32}$/)
  const called = await fetch(`${base}/gateway/books/shelves`, { headers: { 'ocp-apim-subscription-key': key } })
  t.equal(called.status, 200, 'the shared key calls the API')
  t.equal(backend.seen.at(-1)?.url, '/v1/shelves')
  await screenshot(sam, 'organisation-subscriptions-phone')
})
