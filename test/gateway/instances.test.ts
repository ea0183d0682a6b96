import t from 'tap'
import { makeApp } from '../helpers'
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

  // Quota: 10 calls here, then the other instance reads them from the database.
  for (let i = 0; i < 9; i++) t.equal(await callHere(world.primary), 200)
  await sleep(700) // one flush
  const there: number[] = []
  for (let i = 0; i < 15; i++) there.push(await callOther(world.primary))
  t.same(there, [...Array(10).fill(200), ...Array(5).fill(403)], 'the other instance counts on from the first one\'s 10 calls')
  await sleep(700)
  t.equal(await callHere(world.primary), 403, 'and this one sees the other\'s calls')
  await app.db('quota_usage').where('subscription_id', world.subscriptionId).update({ calls: 0 })
  await sleep(700)
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
