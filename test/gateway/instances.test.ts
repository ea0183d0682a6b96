import t from 'tap'
import { ADMIN, countOf, makeApp, signedInClient } from '../helpers'
import { gatewayWorld, startBackend } from '../fixtures/gateway'
import { startSecondInstance } from '../fixtures/instance'

// Two processes on one database (a SQLite file, or PostgreSQL in the PostgreSQL run): this test's
// app is one instance, a second server.ts the other, its gateway on GATEWAY_PORT.

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

t.test('a key ended on one instance is refused by the other within a second; the quota is shared; GATEWAY_PORT serves the gateway alone', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '20', quotaPeriod: 'day' })
  const other = await startSecondInstance(t, app.config)
  const admin = { id: world.admin.id, label: world.admin.email, ip: null }
  const callOther = async (key: string) => (await fetch(`${other.gatewayUrl}/books/x`, { headers: { 'ocp-apim-subscription-key': key } })).status
  const callHere = async (key: string) => (await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': key } })).statusCode

  /** How long the other instance takes to refuse the key after `change` returns (it must be under a second). */
  async function refusedWithin (key: string, change: () => Promise<unknown>): Promise<number> {
    await change()
    const started = Date.now()
    while (await callOther(key) !== 401) {
      if (Date.now() - started > 5_000) return Infinity
      await sleep(20)
    }
    return Date.now() - started
  }

  // The second instance's GATEWAY_PORT: the gateway and nothing else, no session.
  const origin = new URL(other.gatewayUrl).origin
  for (const path of ['/signin', '/admin', '/', '/public/style.css']) {
    const res = await fetch(origin + path)
    t.equal(res.status, 404, `${path} is not served there`)
    t.equal(res.headers.get('set-cookie'), null)
  }
  const viaPortal = await fetch(`${other.portalUrl}/gateway/books/x`, { headers: { 'ocp-apim-subscription-key': world.secondary } })
  t.equal(viaPortal.status, 200, 'the portal\'s own server still has the gateway under /gateway')

  // Quota: 10 calls made, then the other instance reserves what is left in the database.
  for (let i = 0; i < 9; i++) t.equal(await callHere(world.primary), 200)
  await sleep(1200) // two flushes: this instance gives back what it reserved and did not use
  const there: number[] = []
  for (let i = 0; i < 15; i++) there.push(await callOther(world.primary))
  t.same(there, [...Array(10).fill(200), ...Array(5).fill(403)], 'the other instance counts on from the first one\'s 10 calls')
  t.equal(await callHere(world.primary), 403, 'and this one sees the other\'s calls at once: nothing is left to reserve')
  await app.db('quota_usage').where('subscription_id', world.subscriptionId).update({ calls: 0, reserved: 0 })
  await sleep(1100) // a used-up quota is asked about again after a second
  t.equal(await callOther(world.primary), 200, 'quota reset by hand: the key works on the other instance (cache warm)')

  const blocked = await refusedWithin(world.primary, async () => await app.services.accounts.blockAccount(world.dev.id, admin))
  t.ok(blocked <= 1000, `owner blocked: refused after ${blocked} ms`)
  await app.services.accounts.activateAccount(world.dev.id, admin)
  const started = Date.now()
  while (await callOther(world.primary) !== 200 && Date.now() - started < 5000) await sleep(20)
  t.equal(await callOther(world.primary), 200, 'activated again')

  const regenerated = await refusedWithin(world.secondary, async () => {
    t.equal(await callOther(world.secondary), 200)
    await app.services.subscriptions.regenerateKey(null, world.subscriptionId, 'secondary', admin)
  })
  t.ok(regenerated <= 1000, `secondary key regenerated: refused after ${regenerated} ms`)

  const unpublished = await refusedWithin(world.primary, async () => await app.services.products.setState(world.productId, 'notPublished', admin))
  t.ok(unpublished <= 1000, `product unpublished: refused after ${unpublished} ms`)
})

t.test('two instances on one database: 50 administrator changes on one while the other serves gateway traffic, not one failure', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '1000000', quotaPeriod: 'day' })
  const actor = { id: world.admin.id, label: world.admin.email, ip: null }
  const keys = [world.primary, world.secondary]
  for (let i = 0; i < 4; i++) {
    const s = await app.services.subscriptions.subscribeOnBehalf(world.dev.id, { productId: world.productId, displayName: `App ${i}` }, actor)
    const [own] = (await app.services.subscriptions.listOwn(world.dev.id)).filter((o) => o.id === s.id)
    keys.push(own.keys.primary ?? '')
  }
  const ids: number[] = []
  for (let i = 0; i < 20; i++) {
    ids.push((await app.services.accounts.createAccount({ firstName: 'Bulk', lastName: `Number ${i}`, email: `bulk${i}@example.com`, password: 'a long and quiet river bend' }, [], actor)).id)
  }
  const other = await startSecondInstance(t, app.config)

  // Gateway traffic on the other instance: each call counted, so it writes quota and usage all along.
  let running = true
  const statuses = new Map<number, number>()
  const traffic = Array.from({ length: 8 }, async (_, lane) => {
    for (let i = 0; running; i++) {
      const res = await fetch(`${other.gatewayUrl}/books/x`, { headers: { 'ocp-apim-subscription-key': keys[(lane + i) % keys.length] } })
      await res.arrayBuffer()
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    }
  })

  const client = await signedInClient(app, ADMIN)
  await client.get('/admin/developers')
  const answers: number[] = []
  for (let i = 0; i < 50; i++) {
    const res = await client.post('/admin/developers/bulk', { ids: ids.map(String), action: i % 2 === 0 ? 'block' : 'activate' })
    answers.push(res.statusCode)
    await client.get('/admin/developers/bulk')
  }
  const unpublished = await refusedOn(other.gatewayUrl, world.primary, async () => await app.services.products.setState(world.productId, 'notPublished', actor))
  running = false
  await Promise.all(traffic)

  t.same(answers, Array(50).fill(303), 'every change answered 303 (none 500 SQLITE_BUSY)')
  t.same((await app.db('developers').whereIn('id', ids).distinct('state')).map((r) => r.state), ['active'], 'and each took effect')
  t.equal(await countOf(app.db('audit_events').whereIn('action', ['developer.blocked', 'developer.activated'])), 50 * 20, 'audited account by account')
  t.ok(unpublished <= 1000, `the unpublish ended the key on the other instance after ${unpublished} ms`)
  const calls = [...statuses.values()].reduce((a, b) => a + b, 0)
  t.ok(calls > 100, `${calls} gateway calls meanwhile`)
  t.same([...statuses.keys()].filter((s) => s !== 200 && s !== 401), [], 'every gateway call answered 200 (or 401 once the product was unpublished)')
})

/** How long `gatewayUrl` takes to refuse `key` after `change` returns. */
async function refusedOn (gatewayUrl: string, key: string, change: () => Promise<unknown>): Promise<number> {
  await change()
  const started = Date.now()
  while ((await fetch(`${gatewayUrl}/books/x`, { headers: { 'ocp-apim-subscription-key': key } })).status !== 401) {
    if (Date.now() - started > 5_000) return Infinity
    await sleep(20)
  }
  return Date.now() - started
}
