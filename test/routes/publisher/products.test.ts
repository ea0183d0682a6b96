import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, countOf, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'

async function setup (t: Test): Promise<{ app: FastifyInstance, admin: Client }> {
  const app = await makeApp(t)
  await createAdmin(app)
  return { app, admin: await signedInClient(app, ADMIN) }
}

const PRODUCT = {
  name: 'Gold', description: 'Everything.', state: 'notPublished', subscriptionRequired: 'on', subscriptionsLimit: '2', terms: '',
  rateLimitCalls: '10', rateLimitPeriod: '60', quotaCalls: '1000', quotaPeriod: 'month'
}

t.test('Starter and Unlimited exist after migration, as in the reference product', async (t) => {
  const { app, admin } = await setup(t)
  const starter = await app.db('products').where('name', 'Starter').first()
  t.match(starter, { state: 'notPublished', rate_limit_calls: 5, rate_limit_period: 60, quota_calls: 100, quota_period: 'week' })
  t.notOk(Boolean(starter.approval_required))
  t.ok(Boolean(starter.subscription_required))
  const unlimited = await app.db('products').where('name', 'Unlimited').first()
  t.ok(Boolean(unlimited.approval_required))
  t.equal(unlimited.state, 'notPublished')
  t.equal(unlimited.quota_calls, null)
  t.equal(await countOf(app.db('product_apis')), 0, 'without APIs')
  const list = await admin.get('/admin/products')
  t.match(list.body, /Starter<\/a>/)
  t.match(list.body, /Unlimited<\/a>/)
  t.match(list.body, /Not published/)
})

t.test('create and edit a product: every field stored; bad input is 400 with messages, input kept; a taken name 409', async (t) => {
  const { app, admin } = await setup(t)
  t.match((await admin.get('/admin/products/new')).body, /name="subscriptionRequired" value="on" checked/)
  const res = await admin.post('/admin/products', PRODUCT)
  t.equal(res.statusCode, 303)
  const row = await app.db('products').where('name', 'Gold').first()
  t.equal(res.headers.location, `/admin/products/${row.id as number}`)
  t.match(row, { description: 'Everything.', state: 'notPublished', subscriptions_limit: 2, rate_limit_calls: 10, rate_limit_period: 60, quota_calls: 1000, quota_period: 'month' })
  t.notOk(Boolean(row.approval_required))
  t.ok(await app.db('audit_events').where({ action: 'product.created', target_id: row.id }).first())

  const { subscriptionRequired: _, ...unticked } = PRODUCT
  const bad = await admin.post('/admin/products', { ...unticked, name: 'New', approvalRequired: 'on', subscriptionsLimit: 'lots', rateLimitCalls: '5', rateLimitPeriod: '', quotaPeriod: 'year', state: 'live' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Approval needs subscriptions/)
  t.match(bad.body, /Enter the most subscriptions per developer as a whole number/)
  t.match(bad.body, /A rate limit needs both the number of calls and the period/)
  t.match(bad.body, /Choose a day, a week or a month/)
  t.match(bad.body, /Choose Published or Not published/)
  t.match(bad.body, /value="lots"/, 'input kept')
  t.equal((await admin.post('/admin/products', { ...PRODUCT, name: ' gold ' })).statusCode, 409)

  const id = row.id as number
  const edit = await admin.post(`/admin/products/${id}`, { ...PRODUCT, name: 'Gold plus', approvalRequired: 'on', subscriptionsLimit: '', quotaCalls: '', quotaPeriod: '', terms: 'Be nice.' })
  t.equal(edit.statusCode, 303)
  const edited = await app.db('products').where('id', id).first()
  t.match(edited, { name: 'Gold plus', subscriptions_limit: null, quota_calls: null, quota_period: null, terms: 'Be nice.' })
  t.ok(Boolean(edited.approval_required))
  const page = await admin.get(`/admin/products/${id}`)
  t.match(page.body, /name="approvalRequired" value="on" checked/)
  t.match(page.body, /Be nice\./)
})

t.test('publish and unpublish; add and remove APIs and groups; each audited', async (t) => {
  const { app, admin } = await setup(t)
  const starter = (await app.db('products').where('name', 'Starter').first()).id as number
  t.equal((await admin.post(`/admin/products/${starter}/publish`)).statusCode, 303)
  t.equal((await app.db('products').where('id', starter).first()).state, 'published')
  await admin.post(`/admin/products/${starter}/unpublish`)
  t.equal((await app.db('products').where('id', starter).first()).state, 'notPublished')

  await admin.post('/admin/apis', { name: 'Weather', path: 'weather', serviceUrl: 'https://b.example.com', description: '', openapi: '' })
  const api = (await app.db('apis').first()).id as number
  t.equal((await admin.post(`/admin/products/${starter}/apis`, { apiId: String(api) })).statusCode, 303)
  t.ok(await app.db('product_apis').where({ product_id: starter, api_id: api }).first())
  t.match((await admin.get(`/admin/products/${starter}`)).body, /Weather<\/a>/)
  const again = await admin.post(`/admin/products/${starter}/apis`, { apiId: String(api) })
  t.equal(again.statusCode, 409)
  t.equal((await admin.post(`/admin/products/${starter}/apis`, { apiId: '999' })).statusCode, 400)
  // Ids past the database's integers are simply not found, on PostgreSQL too (never a 500).
  for (const huge of ['2147483648', '99999999999999999999', '1e309']) {
    t.equal((await admin.post(`/admin/products/${starter}/apis`, { apiId: huge })).statusCode, 400)
    t.equal((await admin.post(`/admin/products/${starter}/groups`, { groupId: huge })).statusCode, 400)
  }
  t.equal((await admin.get('/admin/products/2147483648')).statusCode, 404)
  t.equal((await admin.get('/admin/subscriptions?product=2147483648')).statusCode, 200)
  t.equal((await admin.post(`/admin/products/${starter}/apis/${api}/remove`)).statusCode, 303)
  t.equal(await app.db('product_apis').where({ product_id: starter }).first(), undefined)
  t.equal((await admin.post(`/admin/products/${starter}/apis/${api}/remove`)).statusCode, 404)

  const guests = (await app.db('groups').where('system_key', 'guests').first()).id as number
  const administrators = (await app.db('groups').where('system_key', 'administrators').first()).id as number
  t.equal((await admin.post(`/admin/products/${starter}/groups/${guests}/remove`)).statusCode, 303)
  t.equal(await app.db('product_groups').where({ product_id: starter, group_id: guests }).first(), undefined)
  t.equal((await admin.post(`/admin/products/${starter}/groups`, { groupId: String(guests) })).statusCode, 303)
  t.ok(await app.db('product_groups').where({ product_id: starter, group_id: guests }).first())
  t.equal((await admin.post(`/admin/products/${starter}/groups`, { groupId: String(administrators) })).statusCode, 409)
  const actions = (await app.db('audit_events').where('target_id', starter).where('target_type', 'product').select('action')).map((r) => r.action)
  t.same(actions.sort(), ['product.api-added', 'product.api-removed', 'product.group-added', 'product.group-removed', 'product.published', 'product.unpublished'])
})

t.test('deleting a product with live subscriptions is refused unless the admin confirms cancelling them', async (t) => {
  const { app, admin } = await setup(t)
  const dev = await createDeveloper(app)
  const gold = await app.services.products.createProduct({ ...PRODUCT, subscriptionRequired: true, approvalRequired: false }, { id: null, label: 'test', ip: null })
  await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: gold.id, displayName: 'App' }, { id: null, label: 'test', ip: null })
  const confirm = await admin.get(`/admin/products/${gold.id}/delete`)
  t.match(confirm.body, /has 1 live subscription/)
  t.match(confirm.body, /name="cancelSubscriptions"/)
  const refused = await admin.post(`/admin/products/${gold.id}/delete`)
  t.equal(refused.statusCode, 409)
  t.match(refused.body, /Tick the box to cancel it with the product/)
  t.ok(await app.db('products').where('id', gold.id).first())
  const done = await admin.post(`/admin/products/${gold.id}/delete`, { cancelSubscriptions: 'on' })
  t.equal(done.statusCode, 303)
  t.equal(await app.db('products').where('id', gold.id).first(), undefined)
  t.equal(await countOf(app.db('subscription_keys')), 0, 'its keys are gone')
  const event = await app.db('audit_events').where({ action: 'product.deleted', target_id: gold.id }).first()
  t.match(JSON.parse(event.details), { cancelledSubscriptions: 1 })
  // Without live subscriptions no confirmation is needed.
  const starter = (await app.db('products').where('name', 'Starter').first()).id as number
  t.equal((await admin.post(`/admin/products/${starter}/delete`)).statusCode, 303)
})

t.test('developers cannot reach product administration', async (t) => {
  const { app } = await setup(t)
  await createDeveloper(app)
  const dev = await signedInClient(app, DEV)
  t.equal((await dev.get('/admin/products')).statusCode, 403)
  t.equal((await dev.post('/admin/products', PRODUCT)).statusCode, 403)
})
