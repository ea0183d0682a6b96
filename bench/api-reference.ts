/**
 * The API reference page (issue 11): the Library fixture (34 operations) and a 3.4 MB document
 * (3,400 operations), read by a signed-out visitor. Baseline in the same run: a bare fastify +
 * @fastify/view + eta server rendering the same template with the same reference held in memory
 * (no database, no JSON parse, no session, no security hooks), so the ratio is what the portal
 * adds to the drawing itself. Also prints how long importing each document takes.
 * Run: npm run bench:reference
 */
import type { AddressInfo } from 'node:net'
import autocannon from 'autocannon'
import fastify from 'fastify'
import view from '@fastify/view'
import { Eta } from 'eta'
import { run, withApp } from './lib/app'
import { viewsDir } from '../src/paths'
import { formatDate, textBlocks } from '../src/format'
import { referenceData } from '../src/routes/shared/reference'
import { LIBRARY_JSON, bigDocument } from '../test/fixtures/openapi'

const DURATION_S = 5
const ACTOR = { id: null, label: 'bench', ip: null }

async function bareServer (data: Record<string, unknown>): Promise<{ url: string, close: () => Promise<void> }> {
  const server = fastify()
  await server.register(view, { engine: { eta: new Eta({ views: viewsDir, autoEscape: true, cache: true }) }, templates: viewsDir, production: true })
  server.get('/', async (_request, reply) => await reply.type('text/html; charset=utf-8').viewAsync('portal/catalog/api', data))
  await server.listen({ port: 0, host: '127.0.0.1' })
  return { url: `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/`, close: async () => { await server.close() } }
}

async function load (url: string): Promise<{ rps: number, p50: number, p99: number, failed: number, bytes: number }> {
  const result = await autocannon({ url, connections: 4, duration: DURATION_S })
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, failed: result.non2xx + result.errors, bytes: result.throughput.total / Math.max(1, result.requests.total) }
}

async function main (): Promise<void> {
  await withApp({ PASSWORD_HASH_COST: '10' }, async (app) => {
    const guests = (await app.db('groups').where('system_key', 'guests').first()).id as number
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    for (const [name, text] of [['Library (34 operations)', LIBRARY_JSON], ['3.4 MB (3,400 operations)', bigDocument(100)]] as const) {
      const started = Date.now()
      const api = await app.services.apis.createApi({ name, path: `p${started}`, serviceUrl: 'https://backend.example.com', description: '', openapi: text }, ACTOR)
      const imported = Date.now() - started
      const product = await app.services.products.createProduct({
        name: `Product ${started}`, description: '', state: 'published', subscriptionRequired: true, approvalRequired: false, subscriptionsLimit: '', terms: '',
        rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: '', quotaPeriod: ''
      }, ACTOR)
      await app.services.products.addApi(product.id, api.id, ACTOR)
      await app.services.products.addGroup(product.id, guests, ACTOR)
      const reference = await app.services.apis.findReference(api.id)
      const { orgName, signupEnabled } = await app.services.settings.getSettings()
      const bare = await bareServer({
        orgName, signupEnabled, me: null, path: `/apis/${api.id}`, flash: null, values: {}, errors: {}, formatDate, textBlocks, csrf: () => '',
        title: api.name, products: [product], ...referenceData(app.config.gatewayUrl, api, reference, 1, `/apis/${api.id}`)
      })
      const baseline = await load(bare.url)
      await bare.close()
      const page = await load(`http://127.0.0.1:${port}/apis/${api.id}`)
      process.stdout.write(`${name}: imported in ${imported} ms; page ${(page.bytes / 1024).toFixed(0)} KiB\n`)
      process.stdout.write(`  bare template  ${baseline.rps.toFixed(1).padStart(8)} req/s  p50 ${baseline.p50} ms  p99 ${baseline.p99} ms\n`)
      process.stdout.write(`  portal page    ${page.rps.toFixed(1).padStart(8)} req/s  p50 ${page.p50} ms  p99 ${page.p99} ms  ${(page.rps / baseline.rps * 100).toFixed(1)}% of the bare template${page.failed > 0 ? `  (${page.failed} failed)` : ''}\n`)
    }
  })
}

run(main)
