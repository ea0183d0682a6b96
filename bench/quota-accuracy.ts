/**
 * Quota accuracy (issue 20): how many calls reach the backend against a fresh quota, under
 * concurrent bursts, on one instance and on two sharing the database, and what a kill -9 in the
 * middle of a burst loses. The instances are real `npm start` servers (compiled), each in a process
 * of its own, their gateways on ports of their own; the backend counts what reaches it. The
 * baseline is the quota itself: each line prints admitted ÷ quota (the target: exactly 1 on one
 * instance, never above 1 on two).
 * Run: npm run bench:quota        (SQLite)
 *      BENCH_POSTGRES=postgres://… npm run bench:quota    (PostgreSQL)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app'
import { loadConfig } from '../src/config'
import { run } from './lib/app'
import { startInstance, type Instance } from './lib/instance'
import { temporaryStore } from './lib/store'

const POSTGRES = process.env.BENCH_POSTGRES ?? ''
const ACTOR = { id: null, label: 'bench', ip: null }
const ENV = { PASSWORD_HASH_COST: '10', GATEWAY_CONCURRENT_CALLS: '100000' }

async function startBackend (): Promise<{ url: string, arrivals: number[], close: () => Promise<void> }> {
  const arrivals: number[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    arrivals.push(Date.now())
    req.resume()
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}') })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals, close: async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) } }
}

async function call (instance: Instance, key: string): Promise<number> {
  const res = await fetch(`${instance.gatewayUrl}/books/x`, { headers: { 'ocp-apim-subscription-key': key } })
  await res.arrayBuffer()
  return res.status
}

/** `lanes` callers per instance, each making `calls` calls one after the other; answers how many got 200. */
async function burst (instances: Instance[], key: string, lanes: number, calls: number): Promise<number> {
  const answers = await Promise.all(instances.flatMap((instance) => Array.from({ length: lanes }, async () => {
    let admitted = 0
    for (let i = 0; i < calls; i++) if (await call(instance, key) === 200) admitted++
    return admitted
  })))
  return answers.reduce((a, b) => a + b, 0)
}

async function main (): Promise<void> {
  const backend = await startBackend()
  const store = await temporaryStore(POSTGRES)
  const env = { ...ENV, ...store.env }
  const app: FastifyInstance = await buildApp(loadConfig(env))
  try {
    const dev = await app.services.accounts.createAccount({ email: 'bench@example.com', firstName: 'Bench', lastName: 'Mark', password: 'quiet rivers run far and deep' }, [], ACTOR)
    const api = await app.services.apis.createApi({ name: 'Books', path: 'books', serviceUrl: backend.url, description: '', openapi: '' }, ACTOR)
    /** A fresh subscription with this daily quota: its key. */
    const fresh = async (quota: number): Promise<{ id: number, key: string }> => {
      const product = await app.services.products.createProduct({
        name: `Quota ${quota} ${Math.random()}`, description: '', state: 'published', subscriptionRequired: true, approvalRequired: false, subscriptionsLimit: '', terms: '',
        rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: String(quota), quotaPeriod: 'day'
      }, ACTOR)
      await app.services.products.addApi(product.id, api.id, ACTOR)
      const subscription = await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: 'bench' }, ACTOR)
      const [own] = (await app.services.subscriptions.listOwn(dev.id)).filter((s) => s.id === subscription.id)
      await new Promise((resolve) => setTimeout(resolve, 600)) // the instances hear of the new product
      return { id: subscription.id, key: own.keys.primary ?? '' }
    }
    const engine = POSTGRES === '' ? 'SQLite' : 'PostgreSQL'
    const a = await startInstance(env)
    const b = await startInstance(env)
    const line = (what: string, quota: number, admitted: number): void => {
      process.stdout.write(`${engine} | ${what} | quota ${quota} | admitted ${admitted} | ${(admitted / quota).toFixed(3)} × quota\n`)
    }
    try {
      for (const [quota, lanes, calls] of [[100, 200, 1], [1000, 100, 20]]) {
        const one = await fresh(quota)
        line(`one instance, ${lanes} callers × ${calls}`, quota, await burst([a], one.key, lanes, calls))
        const two = await fresh(quota)
        const first = await burst([a, b], two.key, lanes / 2, calls)
        await new Promise((resolve) => setTimeout(resolve, 1500))
        const again = await burst([a, b], two.key, 10, 5)
        line(`two instances, ${lanes / 2} callers × ${calls} on each`, quota, first)
        line('two instances, with a second burst 1.5 s later', quota, first + again)
      }

      // kill -9 in the middle of a burst on one instance.
      const big = await fresh(1_000_000)
      const before = backend.arrivals.length
      let stop = false
      const lanes = Array.from({ length: 16 }, async () => { while (!stop) { try { await call(b, big.key) } catch { stop = true } } })
      await new Promise((resolve) => setTimeout(resolve, 3000))
      const killedAt = Date.now()
      await b.stop('SIGKILL')
      stop = true
      await Promise.all(lanes)
      const reached = backend.arrivals.length - before
      const lastSecond = backend.arrivals.filter((at) => at > killedAt - 1000).length
      const row = await app.db('quota_usage').where('subscription_id', big.id).first('calls', 'reserved')
      const counted = Number(row?.calls ?? 0)
      process.stdout.write(`${engine} | kill -9 after 3 s | ${reached} calls reached the backend, ${lastSecond} in the last second | counted ${counted}, lost ${reached - counted} (${((reached - counted) / reached * 100).toFixed(1)}%) | reserved ${Number(row?.reserved ?? 0)} ≥ reached: ${Number(row?.reserved ?? 0) >= reached ? 'yes' : 'NO'}\n`)
    } finally {
      await a.stop('SIGTERM')
      await b.stop('SIGTERM')
    }
  } finally {
    await app.close()
    await backend.close()
    await store.remove()
  }
}

run(main)
