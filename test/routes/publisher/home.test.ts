import t from 'tap'
import { ADMIN, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { SYSTEM, startBackend } from '../../fixtures/gateway'
import { productFor } from '../../fixtures/catalog'

/** The home's figures as the page shows them: "<count> <label>" per tile. */
function tiles (body: string): Map<string, string> {
  return new Map([...body.matchAll(/<a class="tile[^"]*" href="[^"]+"><span class="count">([^<]+)<\/span> ([^<]+)/g)].map((m) => [m[2].trim(), m[1]]))
}

function steps (body: string): string[] {
  return [...body.matchAll(/<li class="step-(done|todo)">[\s\S]*?<strong>([^<]+)<\/strong>/g)].map((m) => `${m[2]}: ${m[1]}`)
}

t.test('a new install: the getting-started list ticks itself off; the figures count what they say', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)

  let page = await admin.get('/admin')
  t.equal(page.statusCode, 200)
  t.same(steps(page.body), ['Add an API: todo', 'Make a product: todo', 'Publish it: todo', 'Invite a developer: todo'])
  t.match(page.body, /0 of 4 done/)
  t.equal(tiles(page.body).get('active developers'), '0', 'the administrator is not counted as a developer')

  const api = await app.services.apis.createApi({ name: 'Books', path: 'books', serviceUrl: `${backend.url}/v1`, description: '', openapi: '' }, SYSTEM)
  const product = await productFor(app, SYSTEM, { name: 'Reading', state: 'notPublished' }, [api.id])
  page = await admin.get('/admin')
  t.same(steps(page.body), ['Add an API: done', 'Make a product: done', 'Publish it: todo', 'Invite a developer: todo'])
  t.match(page.body, /Make a product<\/strong><span class="visually-hidden"> \(done\)/, 'done is said in words, not only by the tick')
  t.equal(tiles(page.body).get('published products'), '0')

  await app.services.products.setState(product.id, 'published', SYSTEM)
  await app.services.invitations.inviteDeveloper({ email: 'ines@example.com', firstName: 'Inès', lastName: 'Invited' }, SYSTEM)
  page = await admin.get('/admin')
  t.notMatch(page.body, /Getting started/, 'all four done: the list is gone')

  // Known data: two active developers (one makes a subscription request), one blocked, one invited.
  const dev = await createDeveloper(app)
  const blocked = await createDeveloper(app, { firstName: 'Bo', lastName: 'Blocked', email: 'bo@example.com', password: 'a long and quiet river bend' })
  await app.services.accounts.blockAccount(blocked.id, SYSTEM)
  await createDeveloper(app, { firstName: 'Cy', lastName: 'Second', email: 'cy@example.com', password: 'a long and quiet river bend' })
  const approval = await productFor(app, SYSTEM, { name: 'Gold', approvalRequired: true }, [api.id])
  await productFor(app, SYSTEM, { name: 'Hidden', state: 'notPublished' })
  const developer = await signedInClient(app, { email: dev.email, password: 'a long and quiet river bend' })
  await developer.get(`/products/${approval.id}`)
  t.equal((await developer.post(`/products/${approval.id}/subscribe`, { displayName: 'Gold app' })).statusCode, 303)
  // Calls today: three through the gateway, one of them answered 404 by the backend and one refused.
  const subscription = await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: 'Starter app' }, SYSTEM)
  const key = (await app.services.subscriptions.listOwn(dev.id)).find((s) => s.id === subscription.id)?.keys.primary ?? ''
  for (const path of ['/books/a', '/books/b/missing']) {
    await app.inject({ method: 'GET', url: `/gateway${path}`, headers: { 'ocp-apim-subscription-key': key } })
  }
  t.equal((await app.inject({ method: 'GET', url: '/gateway/books/c', headers: { 'ocp-apim-subscription-key': 'wrong' } })).statusCode, 401)
  await app.services.gateway.flush()
  // One email that could not be sent.
  await app.db('outbox_emails').where('id', (await app.db('outbox_emails').first('id')).id).update({ status: 'failed' })

  page = await admin.get('/admin')
  const figures = tiles(page.body)
  t.equal(figures.get('active developers'), '2', 'two active developers; the blocked one, the invited one and the administrator are not counted')
  t.equal(figures.get('pending invitation'), '1')
  t.equal(figures.get('subscription to approve'), '1')
  t.equal(figures.get('API'), '1')
  t.equal(figures.get('published products'), '2', 'Reading and Gold')
  t.match(page.body, /published products <span class="muted small">\(of 5\)/, 'with Hidden, Starter and Unlimited (made by the install), unpublished')
  t.equal(figures.get('Calls today'), '3')
  t.equal(figures.get('Errors today'), '2', 'the backend\'s 404 and the gateway\'s 401')
  t.equal(figures.get('failed email'), '1')
  t.match(page.body, /href="\/admin\/subscriptions\?state=submitted"/, 'each figure links to its list')
})

