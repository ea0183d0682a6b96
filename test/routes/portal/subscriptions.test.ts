import t, { type Test } from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import type { Actor } from '../../../src/services/kernel/events'
import { keyDigest } from '../../../src/services/subscriptions/key-store'
import { productFor } from '../../fixtures/catalog'

const SYSTEM: Actor = { id: null, label: 'test', ip: null }
const OTHER = { firstName: 'Otto', lastName: 'Other', email: 'otto@example.com', password: 'another long quiet password' }

async function setup (t: Test) {
  const app = await makeApp(t)
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const product = await productFor(app, SYSTEM, { name: 'Books' })
  const developer = await signedInClient(app, DEV)
  await developer.get(`/products/${product.id}`)
  await developer.post(`/products/${product.id}/subscribe`, { displayName: 'Reading app' })
  const subscription = await app.db('subscriptions').where('developer_id', dev.id).first()
  return { app, dev, product, developer, id: subscription.id as number }
}

async function keysOf (app: FastifyInstance, id: number): Promise<Record<string, string>> {
  const [subscription] = (await app.services.subscriptions.listOwn((await app.db('subscriptions').where('id', id).first()).developer_id)).filter((s) => s.id === id)
  return { primary: subscription.keys.primary ?? '', secondary: subscription.keys.secondary ?? '' }
}

t.test('the Subscriptions page lists state, product, dates and both keys behind a <details> show control', async (t) => {
  const { app, developer, id } = await setup(t)
  const page = await developer.get('/subscriptions')
  t.equal(page.statusCode, 200)
  t.equal(page.headers['cache-control'], 'no-store')
  const keys = await keysOf(app, id)
  t.match(keys.primary, /^[0-9a-f]{32}$/, '128 random bits, hex')
  t.match(keys.secondary, /^[0-9a-f]{32}$/)
  t.not(keys.primary, keys.secondary)
  t.match(page.body, /<h2>Reading app<\/h2>\s*<span class="state state-active">Active<\/span>/)
  t.match(page.body, /<a href="\/products\/\d+">Books<\/a>/)
  t.match(page.body, new RegExp(`<details>\\s*<summary>Show primary key</summary>\\s*<p><code class="secret">${keys.primary}</code>`))
  t.match(page.body, new RegExp(`<summary>Show secondary key</summary>\\s*<p><code class="secret">${keys.secondary}</code>`))
  t.notMatch(page.body, /<script/i)
})

t.test('the database holds neither key in clear: a SHA-256 digest and a sealed copy', async (t) => {
  const { app, id } = await setup(t)
  const keys = await keysOf(app, id)
  const rows = await app.db('subscription_keys').where('subscription_id', id).orderBy('slot')
  t.same(rows.map((r) => r.digest).sort(), [keyDigest(keys.primary), keyDigest(keys.secondary)].sort())
  for (const row of rows) t.match(row.sealed, /^v1\./)
  if (app.config.databaseUrl.startsWith('sqlite:')) {
    // The file itself (and its write-ahead log), byte for byte.
    const file = app.config.databaseUrl.slice('sqlite:'.length)
    await app.db.raw('PRAGMA wal_checkpoint(FULL)')
    const dir = join(file, '..')
    const bytes = readdirSync(dir).filter((f) => f.startsWith('portico.sqlite')).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('')
    t.ok(bytes.includes(keyDigest(keys.primary)), 'the file was read')
    t.notOk(bytes.includes(keys.primary), 'no primary key in clear')
    t.notOk(bytes.includes(keys.secondary), 'no secondary key in clear')
  }
  const dump = JSON.stringify(await Promise.all(['subscriptions', 'subscription_keys', 'audit_events', 'outbox_emails'].map(async (table) => await app.db(table).select())))
  t.notOk(dump.includes(keys.primary) || dump.includes(keys.secondary))
})

t.test('each key is regenerated on its own: the old one is gone, the other stays', async (t) => {
  const { app, developer, id } = await setup(t)
  const before = await keysOf(app, id)
  const list = await developer.get('/subscriptions')
  t.match(list.body, new RegExp(`<a class="button" href="/subscriptions/${id}/regenerate\\?key=primary">Regenerate primary key…`), 'the list links to the confirmation page')
  // A post that did not come from the confirmation page is sent to it and changes nothing.
  const unconfirmed = await developer.post(`/subscriptions/${id}/regenerate`, { key: 'primary' })
  t.equal(unconfirmed.statusCode, 303)
  t.equal(unconfirmed.headers.location, `/subscriptions/${id}/regenerate?key=primary`)
  t.same(await keysOf(app, id), before, 'no key changed without the confirmation')
  const confirm = await developer.get(`/subscriptions/${id}/regenerate?key=primary`)
  t.equal(confirm.statusCode, 200)
  t.match(confirm.body, /<h1>Regenerate the primary key of Reading app\?<\/h1>/)
  t.match(confirm.body, /the old one stops working at once/)
  t.match(confirm.body, /<input type="hidden" name="confirm" value="yes">/)
  t.same(await keysOf(app, id), before, 'the page changes nothing')
  const res = await developer.post(`/subscriptions/${id}/regenerate`, { key: 'primary', confirm: 'yes' })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, `/subscriptions#subscription-${id}`)
  const after = await keysOf(app, id)
  t.not(after.primary, before.primary)
  t.equal(after.secondary, before.secondary)
  t.equal(await app.db('subscription_keys').where('digest', keyDigest(before.primary)).first(), undefined, 'the old key no longer looks up')
  t.ok(await app.db('subscription_keys').where('digest', keyDigest(after.primary)).first())
  await developer.post(`/subscriptions/${id}/regenerate`, { key: 'secondary', confirm: 'yes' })
  t.not((await keysOf(app, id)).secondary, before.secondary)
  t.match((await developer.get('/subscriptions')).body, /A new secondary key was made for Reading app/)
  t.equal((await developer.post(`/subscriptions/${id}/regenerate`, { key: 'tertiary', confirm: 'yes' })).statusCode, 400)
  t.equal((await developer.get(`/subscriptions/${id}/regenerate?key=tertiary`)).statusCode, 400)
  t.equal(await app.db('outbox_emails').where('template', 'key-regenerated').first(), undefined, 'the owner renewing their own key is not mailed')
  t.equal(await app.db('audit_events').where({ action: 'subscription.key-regenerated', target_id: id }).count({ n: '*' }).first().then((r) => Number(r?.n)), 2)
})

t.test('rename, and cancel after a confirmation page; ended subscriptions keep no working keys', async (t) => {
  const { app, developer, id } = await setup(t)
  await developer.get('/subscriptions')
  const bad = await developer.post(`/subscriptions/${id}/rename`, { displayName: ' ' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, new RegExp(`<details class="rename" open>[\\s\\S]*id="displayName-${id}-error"`))
  t.equal((await developer.post(`/subscriptions/${id}/rename`, { displayName: 'Reader v2' })).statusCode, 303)
  t.equal((await app.db('subscriptions').where('id', id).first()).display_name, 'Reader v2')

  const confirm = await developer.get(`/subscriptions/${id}/cancel`)
  t.match(confirm.body, /Cancel Reader v2\?/)
  t.match(confirm.body, /both of its keys stop working/)
  t.equal((await app.db('subscriptions').where('id', id).first()).state, 'active', 'the page changes nothing')
  const res = await developer.post(`/subscriptions/${id}/cancel`)
  t.equal(res.statusCode, 303)
  const row = await app.db('subscriptions').where('id', id).first()
  t.equal(row.state, 'cancelled')
  t.ok(row.ended_at)
  const page = await developer.get('/subscriptions')
  t.match(page.body, /<span class="state state-cancelled">Cancelled<\/span>/)
  t.notMatch(page.body, /Show primary key/)
  const again = await developer.post(`/subscriptions/${id}/regenerate`, { key: 'primary', confirm: 'yes' })
  t.equal(again.statusCode, 409)
  t.equal((await developer.post(`/subscriptions/${id}/cancel`)).statusCode, 409)
})

t.test('another developer\'s subscription is not found; signed-out visitors go to sign in', async (t) => {
  const { app, id } = await setup(t)
  await createDeveloper(app, OTHER)
  const other = await signedInClient(app, OTHER)
  t.equal((await other.get(`/subscriptions/${id}/cancel`)).statusCode, 404)
  t.equal((await other.post(`/subscriptions/${id}/regenerate`, { key: 'primary' })).statusCode, 404)
  t.equal((await other.post(`/subscriptions/${id}/regenerate`, { key: 'primary', confirm: 'yes' })).statusCode, 404)
  t.equal((await other.get(`/subscriptions/${id}/regenerate?key=primary`)).statusCode, 404)
  t.equal((await other.post(`/subscriptions/${id}/rename`, { displayName: 'Mine' })).statusCode, 404)
  t.equal((await other.post(`/subscriptions/${id}/cancel`)).statusCode, 404)
  t.notMatch((await other.get('/subscriptions')).body, /Reading app/)
  t.match((await other.get('/subscriptions')).body, /You have no subscriptions yet/)
  const visitor = new Client(app)
  const res = await visitor.get('/subscriptions')
  t.equal(res.statusCode, 303)
  t.match(res.headers.location, /^\/signin\?next=%2Fsubscriptions/)
})

t.test('deleting an account cancels its subscriptions in the same transaction; blocking leaves them', async (t) => {
  const { app, dev, id } = await setup(t)
  const admin = await signedInClient(app, ADMIN)
  await admin.get(`/admin/developers/${dev.id}`)
  t.equal((await admin.post(`/admin/developers/${dev.id}/block`)).statusCode, 303)
  t.equal((await app.db('subscriptions').where('id', id).first()).state, 'active', 'blocking leaves them')
  await admin.post(`/admin/developers/${dev.id}/activate`)
  t.equal((await admin.post(`/admin/developers/${dev.id}/delete`)).statusCode, 303)
  const row = await app.db('subscriptions').where('id', id).first()
  t.equal(row.state, 'cancelled')
  t.equal(row.developer_id, null, 'kept for the record, without an owner')
  t.ok(row.ended_at)
  const details = await admin.get(`/admin/subscriptions/${id}`)
  t.match(details.body, /Deleted account/)

  // Closing one's own account does the same.
  await createDeveloper(app, OTHER)
  const other = await signedInClient(app, OTHER)
  const books = (await app.db('products').where('name', 'Books').first()).id as number
  await other.get(`/products/${books}`)
  await other.post(`/products/${books}/subscribe`, { displayName: 'Otto app' })
  await other.get('/profile')
  t.equal((await other.post('/profile/close', { password: OTHER.password })).statusCode, 303)
  t.equal((await app.db('subscriptions').where('display_name', 'Otto app').first()).state, 'cancelled')
})

t.test('a failure part-way through deleting an account leaves its subscriptions as they were', async (t) => {
  const { app, dev, id } = await setup(t)
  // A farewell email that cannot be written makes the deletion fail after the subscriptions were cancelled.
  await app.db.schema.renameTable('outbox_emails', 'outbox_emails_away')
  await t.rejects(app.services.accounts.deleteAccount(dev.id, SYSTEM))
  await app.db.schema.renameTable('outbox_emails_away', 'outbox_emails')
  t.equal((await app.db('subscriptions').where('id', id).first()).state, 'active')
  t.ok(await app.db('developers').where('id', dev.id).first())
})
