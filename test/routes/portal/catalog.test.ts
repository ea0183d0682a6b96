import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, countOf, Client, DEV, createAdmin, createDeveloper, makeApp, makeAppWithMail, signedInClient } from '../../helpers'
import { LIBRARY_JSON } from '../../fixtures/openapi'
import type { Actor } from '../../../src/services/kernel/events'

const SYSTEM: Actor = { id: null, label: 'test', ip: null }

/** Two published products (one for developers, one for guests), one unpublished, one open; a partner-only product. */
async function catalog (app: FastifyInstance) {
  const { apis, products, groups } = app.services
  const library = await apis.createApi({ name: 'Library', path: 'library', serviceUrl: 'https://library.example.com/v2', description: 'Books and loans.', openapi: LIBRARY_JSON }, SYSTEM)
  const secret = await apis.createApi({ name: 'Secret', path: 'secret', serviceUrl: 'https://secret.example.com', description: '', openapi: '' }, SYSTEM)
  const partnerApi = await apis.createApi({ name: 'Partner feed', path: 'partner', serviceUrl: 'https://partner.example.com', description: '', openapi: '' }, SYSTEM)
  const base = { description: '', subscriptionsLimit: '', terms: '', rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: '', quotaPeriod: '', subscriptionRequired: true, approvalRequired: false }
  const developers = (await app.db('groups').where('system_key', 'developers').first()).id as number
  const guests = (await app.db('groups').where('system_key', 'guests').first()).id as number
  const books = await products.createProduct({ ...base, name: 'Books', state: 'published', subscriptionsLimit: '1' }, SYSTEM)
  await products.addApi(books.id, library.id, SYSTEM)
  await products.addGroup(books.id, developers, SYSTEM)
  const premium = await products.createProduct({ ...base, name: 'Premium', state: 'published', approvalRequired: true, terms: 'Use it kindly.' }, SYSTEM)
  await products.addApi(premium.id, library.id, SYSTEM)
  await products.addGroup(premium.id, developers, SYSTEM)
  const hidden = await products.createProduct({ ...base, name: 'Hidden', state: 'notPublished' }, SYSTEM)
  await products.addApi(hidden.id, secret.id, SYSTEM)
  await products.addGroup(hidden.id, developers, SYSTEM)
  const open = await products.createProduct({ ...base, name: 'Open data', state: 'published', subscriptionRequired: false }, SYSTEM)
  await products.addGroup(open.id, guests, SYSTEM)
  const partners = await groups.createGroup({ name: 'Partners', description: '' }, SYSTEM)
  const partnerOnly = await products.createProduct({ ...base, name: 'Partner deal', state: 'published' }, SYSTEM)
  await products.addApi(partnerOnly.id, partnerApi.id, SYSTEM)
  await products.addGroup(partnerOnly.id, partners.id, SYSTEM)
  return { library, secret, partnerApi, books, premium, hidden, open, partners, partnerOnly }
}

async function setup (t: Test) {
  const app = await makeApp(t)
  await createAdmin(app)
  const dev = await createDeveloper(app)
  return { app, dev, ...(await catalog(app)) }
}

t.test('each visitor sees the published products and APIs shown to their groups; nothing unpublished', async (t) => {
  const { app, dev, library, secret, partnerApi, books, hidden, open, partners, partnerOnly } = await setup(t)
  const visitor = new Client(app)
  const asGuest = await visitor.get('/products')
  t.equal(asGuest.statusCode, 200)
  t.match(asGuest.body, /Open data/)
  t.notMatch(asGuest.body, /Books|Premium|Hidden|Partner deal/)
  t.equal((await visitor.get(`/products/${books.id}`)).statusCode, 404)
  t.equal((await visitor.get(`/products/${open.id}`)).statusCode, 200)
  t.notMatch((await visitor.get('/apis')).body, /Library/)
  t.equal((await visitor.get(`/apis/${library.id}`)).statusCode, 404)

  const developer = await signedInClient(app, DEV)
  const asDev = await developer.get('/products')
  t.match(asDev.body, /Books/)
  t.match(asDev.body, /Premium/)
  t.notMatch(asDev.body, /Hidden|Partner deal|Open data/)
  t.equal((await developer.get(`/products/${hidden.id}`)).statusCode, 404)
  t.equal((await developer.get(`/products/${partnerOnly.id}`)).statusCode, 404)
  const apis = await developer.get('/apis')
  t.match(apis.body, /Library/)
  t.notMatch(apis.body, /Secret|Partner feed/)
  t.equal((await developer.get(`/apis/${secret.id}`)).statusCode, 404)
  t.equal((await developer.get(`/apis/${partnerApi.id}`)).statusCode, 404)

  await app.services.groups.addMemberById(partners.id, dev.id, SYSTEM)
  t.equal((await developer.get(`/apis/${partnerApi.id}`)).statusCode, 200, 'a group member sees its products')
  const admin = await signedInClient(app, ADMIN)
  const asAdmin = await admin.get('/products')
  t.match(asAdmin.body, /Partner deal/, 'administrators see every published product')
  t.notMatch(asAdmin.body, /Hidden/)
})

t.test('GATEWAY_URL is the base shown on API pages', async (t) => {
  const app = await makeApp(t, { GATEWAY_URL: 'https://api.example.com/' })
  await createAdmin(app)
  await createDeveloper(app)
  const { library } = await catalog(app)
  const client = await signedInClient(app, DEV)
  const page = await client.get(`/apis/${library.id}`)
  t.match(page.body, /<code>https:\/\/api\.example\.com\/library<\/code>/)
  const operation = await client.get(`/apis/${library.id}/operations/listBooks`)
  t.match(operation.body, /curl -X GET &#39;https:\/\/api\.example\.com\/library\/books/)
})

t.test('subscribing: active at once; past the limit 409; terms must be accepted; open products need none', async (t) => {
  const { app, dev, books, premium, open, hidden } = await setup(t)
  const developer = await signedInClient(app, DEV)
  const form = await developer.get(`/products/${books.id}`)
  t.match(form.body, /name="displayName"/)
  const empty = await developer.post(`/products/${books.id}/subscribe`, { displayName: ' ' })
  t.equal(empty.statusCode, 400)
  t.match(empty.body, /Enter the subscription name/)
  const res = await developer.post(`/products/${books.id}/subscribe`, { displayName: 'My reading app' })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/subscriptions')
  const row = await app.db('subscriptions').where({ developer_id: dev.id, product_id: books.id }).first()
  t.match(row, { display_name: 'My reading app', state: 'active' })
  t.ok(row.approved_at)
  t.equal(await countOf(app.db('subscription_keys').where('subscription_id', row.id)), 2)
  t.ok(await app.db('audit_events').where({ action: 'subscription.created', actor_id: dev.id }).first())

  t.match((await developer.get(`/products/${books.id}`)).body, /You have 1 live subscription to this product/)
  const second = await developer.post(`/products/${books.id}/subscribe`, { displayName: 'Another' })
  t.equal(second.statusCode, 409)
  t.match(second.body, /Books allows 1 subscription per developer, and there is one already/)
  t.match(second.body, /value="Another"/, 'input kept')

  const noTerms = await developer.post(`/products/${premium.id}/subscribe`, { displayName: 'Premium app' })
  t.equal(noTerms.statusCode, 400)
  t.match(noTerms.body, /Tick the box to accept the terms of use/)
  t.equal((await developer.post(`/products/${open.id}/subscribe`, { displayName: 'x' })).statusCode, 404, 'not shown to developers')
  t.equal((await developer.post(`/products/${hidden.id}/subscribe`, { displayName: 'x' })).statusCode, 404)
  const visitor = new Client(app)
  await visitor.get('/products')
  const signedOut = await visitor.post(`/products/${books.id}/subscribe`, { displayName: 'x' })
  t.equal(signedOut.statusCode, 303)
  t.match(signedOut.headers.location, /^\/signin/)

  const admin = await signedInClient(app, ADMIN)
  const openProduct = await admin.post(`/products/${open.id}/subscribe`, { displayName: 'x' })
  t.equal(openProduct.statusCode, 409)
  t.match(openProduct.body, /needs no subscription/)
})

t.test('a request for an approval-required product is submitted and every administrator is mailed', async (t) => {
  const { app, smtp, dev } = await makeAppWithMail(t)
  const { premium } = await catalog(app)
  const developer = await signedInClient(app, DEV)
  const res = await developer.post(`/products/${premium.id}/subscribe`, { displayName: 'Premium app', acceptTerms: 'on' })
  t.equal(res.statusCode, 303)
  const row = await app.db('subscriptions').where({ developer_id: dev.id }).first()
  t.equal(row.state, 'submitted')
  t.equal(row.approved_at, null)
  const [mail] = await smtp.waitForSubject(/New subscription request for Premium/)
  t.match(mail.to, { text: /ada@example\.com/ })
  t.match(mail.text, /Dev Eloper \(dev@example\.com\) asks to subscribe to the Premium product, with the subscription name "Premium app"/)
  t.match(mail.text, new RegExp(`http://localhost:3000/admin/subscriptions/${row.id as number}`))
  const list = await developer.get('/subscriptions')
  t.match(list.body, /Waiting for an administrator's approval/)
})

t.test('two requests at once cannot pass the subscriptions limit', async (t) => {
  const { app, books } = await setup(t)
  const developer = await signedInClient(app, DEV)
  await developer.get(`/products/${books.id}`)
  const answers = await Promise.all(Array.from({ length: 8 }, async (_, i) => await developer.post(`/products/${books.id}/subscribe`, { displayName: `App ${i}` })))
  t.equal(answers.filter((a) => a.statusCode === 303).length, 1)
  t.equal(answers.filter((a) => a.statusCode === 409).length, 7)
  t.equal(await countOf(app.db('subscriptions').where('product_id', books.id)), 1)
})
