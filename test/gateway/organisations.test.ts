// Subscriptions owned by an organisation: keys shown to every member, managed by owners, kept
// working when a member leaves or is blocked, stopped when the organisation is blocked (on this
// instance at the next call, on another within a second).
import t from 'tap'
import { ADMIN, DEV, createDeveloper, makeApp, signedInClient } from '../helpers'
import { SYSTEM, gatewayWorld, startBackend } from '../fixtures/gateway'
import { startSecondInstance } from '../fixtures/instance'

const SAM = { firstName: 'Sam', lastName: 'Second', email: 'sam@example.com', password: 'sam has a long password too' }
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('an organisation\'s subscription: every member sees the keys, owners manage; leaving, blocking a member, blocking the organisation', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, { RATE_LIMIT_PER_MINUTE: '10000' })
  const world = await gatewayWorld(app, backend.url, { subscriptionsLimit: '1' })
  const sam = await createDeveloper(app, SAM)
  const owner = await signedInClient(app, DEV)
  await owner.get('/organisations')
  const orgId = Number(/(\d+)$/.exec(String((await owner.post('/organisations', { name: 'Acme', description: '' })).headers.location))?.[1])
  await app.db('organisation_members').insert({ organisation_id: orgId, developer_id: sam.id, role: 'member', created_at: new Date().toISOString() })

  // The product page offers the organisation as the owner; the limit of one counts per owner.
  const page = await owner.get(`/products/${world.productId}`)
  t.match(page.body, /<option value="org:\d+">Acme<\/option>/)
  const subscribed = await owner.post(`/products/${world.productId}/subscribe`, { displayName: 'Team app', owner: `org:${orgId}` })
  t.equal(subscribed.statusCode, 303, 'the developer has one of their own already: the organisation may still have one')
  const again = await owner.post(`/products/${world.productId}/subscribe`, { displayName: 'Team app 2', owner: `org:${orgId}` })
  t.equal(again.statusCode, 409)
  t.match(again.body, /per organisation/)
  const row = await app.db('subscriptions').where({ organisation_id: orgId }).first()
  t.ok(row, 'held by the organisation')

  const samClient = await signedInClient(app, SAM)
  t.equal((await samClient.post(`/products/${world.productId}/subscribe`, { displayName: 'Not mine', owner: `org:${orgId}` })).statusCode, 400, 'a member who is not an owner cannot subscribe it')
  t.equal((await samClient.post(`/products/${world.productId}/subscribe`, { displayName: 'Not mine', owner: 'org:999999' })).statusCode, 400)
  const list = await samClient.get('/subscriptions')
  t.match(list.body, /Team app/)
  t.match(list.body, /its owners manage it/)
  const key = /<code class="secret">([0-9a-f]{32})<\/code>/.exec(list.body.slice(list.body.indexOf('Team app')))?.[1] ?? ''
  t.equal(key.length, 32, 'a member sees the keys')
  t.notMatch(list.body.slice(list.body.indexOf('Team app')), /regenerate\?key=/, 'no regenerate for a member')
  t.equal((await samClient.get(`/subscriptions/${row.id}/regenerate?key=primary`)).statusCode, 403)
  t.equal((await samClient.get(`/subscriptions/${row.id}/cancel`)).statusCode, 403)
  t.equal((await samClient.post(`/subscriptions/${row.id}/rename`, { displayName: 'Mine' })).statusCode, 403)
  t.equal((await samClient.get(`/subscriptions/${row.id}/usage`)).statusCode, 200, 'a member sees its usage')
  const call = async (): Promise<number> => (await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': key } })).statusCode
  t.equal(await call(), 200)

  // Sam leaves: on the very next request the keys are out of sight, and they still work.
  await samClient.get('/organisations')
  t.equal((await samClient.post(`/organisations/${orgId}/leave`)).statusCode, 303)
  const after = await samClient.get('/subscriptions')
  t.notMatch(after.body, new RegExp(key), 'the key is gone from the page')
  t.equal((await samClient.get(`/subscriptions/${row.id}/usage`)).statusCode, 404)
  t.equal(await call(), 200, 'the organisation still holds the keys')

  // The owner's account is blocked: they lose the portal, the organisation's keys keep working.
  await app.services.accounts.blockAccount(world.dev.id, { id: world.admin.id, label: ADMIN.email, ip: null })
  t.equal((await owner.get('/subscriptions')).statusCode, 303, 'signed out of the portal')
  t.equal(await call(), 200, 'the organisation\'s key still works')
  t.equal((await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': world.primary } })).statusCode, 401, 'the developer\'s own key stops')
  await app.services.accounts.activateAccount(world.dev.id, SYSTEM)

  // Blocking the organisation refuses its keys on the next call here, and within a second on another instance.
  const other = await startSecondInstance(t, app.config)
  const callOther = async (): Promise<number> => (await fetch(`${other.gatewayUrl}/books/x`, { headers: { 'ocp-apim-subscription-key': key } })).status
  t.equal(await callOther(), 200)
  await app.services.organisations.setState(orgId, 'blocked', SYSTEM)
  t.equal(await call(), 401, 'refused at once on this instance')
  const started = Date.now()
  while (await callOther() !== 401 && Date.now() - started < 5000) await sleep(20)
  t.ok(Date.now() - started <= 1000, `refused on the other instance after ${Date.now() - started} ms`)
  await app.services.organisations.setState(orgId, 'active', SYSTEM)
  t.equal(await call(), 200, 'active again')
  t.ok(await app.db('audit_events').where({ action: 'organisation.blocked', target_id: orgId }).first())

  // Deleting the organisation cancels its subscriptions.
  await app.services.organisations.deleteOrganisation(orgId, SYSTEM)
  t.equal((await app.db('subscriptions').where('id', row.id).first()).state, 'cancelled')
  t.equal(await call(), 401)
})

t.test('the account that made an organisation\'s subscription is deleted: the subscription and its keys stay the organisation\'s', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const sam = await createDeveloper(app, SAM)
  const organisation = await app.services.organisations.createOrganisation(world.dev, { name: 'Acme', description: '' }, SYSTEM)
  await app.services.organisations.addMember(organisation.id, sam.id, 'owner', SYSTEM)
  const subscription = await app.services.subscriptions.subscribeOrganisation(organisation.id, { productId: world.productId, displayName: 'Team app' }, SYSTEM)
  const [shown] = (await app.services.subscriptions.listOwn(sam.id)).filter((s) => s.id === subscription.id)
  const call = async (key: string): Promise<number> => (await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': key } })).statusCode
  t.equal(await call(shown.keys.primary ?? ''), 200)
  await app.services.accounts.deleteAccount(world.dev.id, { id: world.admin.id, label: world.admin.email, ip: null })
  t.equal((await app.db('subscriptions').where('id', subscription.id).first()).state, 'active', 'not cancelled with the account')
  t.equal(await call(shown.keys.primary ?? ''), 200, 'its key still works')
  t.equal(await call(world.primary), 401, 'the deleted developer\'s own subscription is cancelled')
  t.equal((await app.services.subscriptions.listOwn(sam.id)).filter((s) => s.id === subscription.id).length, 1, 'the other owner still sees it')
})

t.test('an organisation\'s subscription near its quota: its owners are mailed, its members not', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '10', quotaPeriod: 'day' })
  const sam = await createDeveloper(app, SAM)
  const mia = await createDeveloper(app, { firstName: 'Mia', lastName: 'Member', email: 'mia@example.com', password: 'mia has a long password too' })
  const organisation = await app.services.organisations.createOrganisation(world.dev, { name: 'Acme', description: '' }, SYSTEM)
  await app.services.organisations.addMember(organisation.id, sam.id, 'owner', SYSTEM)
  await app.services.organisations.addMember(organisation.id, mia.id, 'member', SYSTEM)
  const before = Number((await app.db('outbox_emails').max({ id: 'id' }).first())?.id ?? 0)
  const subscription = await app.services.subscriptions.subscribeOrganisation(organisation.id, { productId: world.productId, displayName: 'Team app' }, SYSTEM)
  const approved = await app.db('outbox_emails').where('template', 'subscription-approved').where('id', '>', before).pluck('to_address')
  t.same(approved.sort(), [DEV.email, SAM.email], 'the approval goes to the owners')
  const [shown] = (await app.services.subscriptions.listOwn(mia.id)).filter((s) => s.id === subscription.id)
  for (let i = 0; i < 9; i++) t.equal((await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': shown.keys.primary ?? '' } })).statusCode, 200)
  await app.services.gateway.flush()
  let warned: string[] = []
  for (let i = 0; i < 50 && warned.length < 2; i++) {
    warned = await app.db('outbox_emails').where('template', 'quota-approaching').pluck('to_address')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.same(warned.sort(), [DEV.email, SAM.email], 'quota-approaching goes to the owners, not to the member')
})
