import t from 'tap'
import { countOf, makeApp } from '../helpers'
import { gatewayWorld, startBackend } from '../fixtures/gateway'
import { startSecondInstance } from '../fixtures/instance'
import { createQuotaCounter } from '../../src/services/gateway/limits'

// Quotas under concurrent bursts, on this run's engine (SQLite, or PostgreSQL in the PostgreSQL run).

// Bursts far wider than the cap on one subscription's calls in progress: every call reaches the quota.
const WIDE = { GATEWAY_CONCURRENT_CALLS: '1000' }

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

async function quotaRow (app: Awaited<ReturnType<typeof makeApp>>, subscriptionId: number): Promise<{ calls: number, reserved: number }> {
  const row = await app.db('quota_usage').where('subscription_id', subscriptionId).first('calls', 'reserved')
  return { calls: Number(row?.calls ?? 0), reserved: Number(row?.reserved ?? 0) }
}

t.test('one instance: 200 calls in 20 concurrent lanes against a fresh quota of 100 let exactly 100 through, while flushes run', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, WIDE, { gateway: { flushMs: 50 } })
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '100', quotaPeriod: 'day' })
  const call = async () => (await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': world.primary } })).statusCode
  // Flushes race the burst: a flush that answers while calls arrive must not let them through.
  let flushing = true
  const flusher = (async () => { while (flushing) { await app.services.gateway.flush(); await sleep(1) } })()
  const lanes = await Promise.all(Array.from({ length: 20 }, async () => {
    const answers: number[] = []
    for (let i = 0; i < 10; i++) answers.push(await call())
    return answers
  }))
  const statuses = lanes.flat()
  flushing = false
  await flusher
  t.equal(statuses.filter((s) => s === 200).length, 100, '100 admitted')
  t.equal(statuses.filter((s) => s === 403).length, 100, '100 refused with 403')
  t.equal(backend.seen.length, 100, 'exactly the quota reached the backend')
  await app.services.gateway.flush()
  t.same(await quotaRow(app, world.subscriptionId), { calls: 100, reserved: 100 }, 'every call admitted is written, and nothing more is reserved than the quota')
  t.equal(await call(), 403, 'and the next call is refused')
})

t.test('two instances: concurrent bursts on both never let more than the quota through; a kill -9 loses at most the last flush interval\'s counts', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t, WIDE)
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '100', quotaPeriod: 'day' })
  const other = await startSecondInstance(t, app.config, WIDE)
  const here = async (key: string) => (await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': key } })).statusCode
  const there = async (key: string) => {
    const res = await fetch(`${other.gatewayUrl}/books/x`, { headers: { 'ocp-apim-subscription-key': key } })
    await res.arrayBuffer()
    return res.status
  }

  const burst = await Promise.all([
    ...Array.from({ length: 150 }, async () => await here(world.primary)),
    ...Array.from({ length: 150 }, async () => await there(world.primary))
  ])
  const first = burst.filter((s) => s === 200).length
  t.ok(first <= 100, `${first} of 300 admitted across two instances: never more than the quota`)
  t.ok(first >= 75, 'and most of it at once: what one instance reserved and did not use is at most a quarter of what was left')
  await sleep(1500) // each instance gives back what it reserved and did not use, and asks again
  const again = await Promise.all([...Array.from({ length: 50 }, async () => await here(world.primary)), ...Array.from({ length: 50 }, async () => await there(world.primary))])
  const admitted = first + again.filter((s) => s === 200).length
  t.equal(admitted, 100, 'in all, exactly the quota')
  t.equal(backend.seen.length, 100)

  // A kill -9 in the middle of a burst: the quota still holds (what was let through was reserved
  // first); the calls counted and not yet written are at most one flush interval's.
  const big = await app.services.subscriptions.subscribeOnBehalf(world.dev.id, { productId: world.productId, displayName: 'Big' }, { id: null, label: 'test', ip: null })
  await app.db('products').where('id', world.productId).update({ quota_calls: 1_000_000 })
  app.services.gateway.invalidate()
  const [own] = (await app.services.subscriptions.listOwn(world.dev.id)).filter((s) => s.id === big.id)
  const key = own.keys.primary ?? ''
  await sleep(500) // the other instance hears of the change
  const arrivals: number[] = []
  const seenBefore = backend.seen.length
  backend.server.on('request', () => { arrivals.push(Date.now()) })
  let stop = false
  const lanes = Array.from({ length: 8 }, async () => { while (!stop) { try { await there(key) } catch { stop = true } } })
  await sleep(2000)
  const killedAt = Date.now()
  await other.kill('SIGKILL')
  stop = true
  await Promise.all(lanes)
  const reached = backend.seen.length - seenBefore
  const { calls, reserved } = await quotaRow(app, big.id)
  t.ok(reached > 100, `${reached} calls reached the backend before the kill`)
  t.ok(reserved >= reached, `reserved (${reserved}) covers every call let through (${reached})`)
  const lastSecond = arrivals.filter((at) => at > killedAt - 1000).length
  t.ok(reached - calls <= lastSecond, `${reached - calls} calls lost from the count, no more than the last second's ${lastSecond}`)
  t.equal(await countOf(app.db('quota_usage').where('subscription_id', big.id)), 1)
})

t.test('a flush giving back an idle counter\'s reservation while a call arrives: the call waits for it, is let through and is counted', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '100', quotaPeriod: 'day' })
  const quotas = createQuotaCounter(app.db, async () => {})
  const quota = { calls: 100, period: 'day' as const }
  const take = async () => await quotas.take(world.subscriptionId, quota, Date.now())
  t.equal(await take(), 0, 'the first call reserves a chunk and goes')
  await quotas.flush() // written; the counter is busy (called since the last flush)
  const giveBack = quotas.flush() // idle now: its reservation is given back...
  const late = take() // ...while a call arrives
  await giveBack
  t.equal(await late, 0, 'the late call goes: what was given back is free again when it reserves')
  await quotas.flush()
  await quotas.flush()
  t.same(await quotaRow(app, world.subscriptionId), { calls: 2, reserved: 2 }, 'both calls written, and nothing reserved beyond them (the counter was not forgotten mid-reservation)')
})
