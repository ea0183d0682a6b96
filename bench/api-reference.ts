/**
 * The API reference at real size (issue 21), on GitHub's REST document (@octokit/openapi, 13 MB,
 * 1,223 operations, 969 schemas), in one run:
 * - the save through the form: its time, and the longest event-loop stall while it runs;
 * - every page of the reference: the largest in bytes;
 * - the largest operation page under load, against a bare fastify + @fastify/view + eta server
 *   drawing the same template from the same data held in memory (the baseline);
 * - gateway and /healthz latency, idle and while ten readers page through the reference and an
 *   administrator saves the document again; the process's largest RSS.
 * The clients run in a worker thread, so their work is not on the event loop being measured; the
 * RSS is this process's (server and clients), the document worker's process counted apart.
 * Targets: stall ≤ 100 ms, gateway p99 within 3× idle, /healthz ≤ 250 ms, RSS ≤ 250 MB.
 * Run: npm run bench:reference
 */
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { join } from 'node:path'
import autocannon from 'autocannon'
import fastify from 'fastify'
import view from '@fastify/view'
import { Eta } from 'eta'
import { run, withApp } from './lib/app'
import { percentile, sessionPage, sessionRequest, type Session } from './lib/http'
import type { LoadPlan, LoadResult } from './lib/reference-load'
import { viewsDir } from '../src/paths'
import { formatDate, textBlocks } from '../src/format'
import { referenceLinks } from '../src/routes/reference/pages'
import { codeSamples, sampleRequest, subscriptionKeyHeader } from '../src/services/catalog/reference/samples'
import { fieldName } from '../src/services/catalog/reference/try-request'
import { githubDocument } from '../test/fixtures/openapi'

const ADMIN = { firstName: 'Bench', lastName: 'Admin', email: 'bench-admin@example.com', password: 'benchmarks are not tests' }
const ACTOR = { id: null, label: 'bench', ip: null }
const READERS = 10

/** The RSS of this process's children (the document worker), in bytes. */
async function childrenRss (): Promise<number> {
  return await new Promise((resolve) => {
    execFile('ps', ['--ppid', String(process.pid), '-o', 'rss='], (_err, stdout) => { resolve(String(stdout).split('\n').reduce((n, line) => n + (Number(line.trim()) || 0), 0) * 1024) })
  })
}

/** Runs the load in its worker thread while watching this thread's event loop, the process's RSS and its children's. */
async function measured (plan: LoadPlan): Promise<LoadResult & { stallMs: number, rssMb: number, workerMb: number, seconds: number }> {
  const loop = monitorEventLoopDelay({ resolution: 5 })
  let rss = process.memoryUsage().rss
  let children = 0
  const sampler = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage().rss)
    void childrenRss().then((n) => { children = Math.max(children, n) })
  }, 100)
  loop.enable()
  const started = performance.now()
  const worker = new Worker(join(__dirname, 'lib', 'reference-load.js'), { workerData: plan })
  const result = await new Promise<LoadResult>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject) })
  await worker.terminate()
  const seconds = (performance.now() - started) / 1000
  loop.disable()
  clearInterval(sampler)
  return { ...result, stallMs: loop.max / 1e6, rssMb: rss / 1024 / 1024, workerMb: children / 1024 / 1024, seconds }
}

const ms = (values: number[], p: number): string => `${percentile(values, p).toFixed(1)} ms`

async function main (): Promise<void> {
  const backend = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}') })
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
  const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`
  await withApp({ PASSWORD_HASH_COST: '10' }, async (app) => {
    await app.services.accounts.createFirstAdministrator(ADMIN, null)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const guests = (await app.db('groups').where('system_key', 'guests').first()).id as number
    // A small API on an open product: what the gateway probes call.
    const ping = await app.services.apis.createApi({ name: 'Ping', path: 'ping', serviceUrl: backendUrl, description: '', openapi: '' }, ACTOR)
    const product = await app.services.products.createProduct({
      name: 'Open', description: '', state: 'published', subscriptionRequired: false, approvalRequired: false, subscriptionsLimit: '', terms: '', rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: '', quotaPeriod: ''
    }, ACTOR)
    await app.services.products.addApi(product.id, ping.id, ACTOR)
    await app.services.products.addGroup(product.id, guests, ACTOR)

    const admin: Session = { cookie: '', csrf: '' }
    await sessionPage(base, admin, '/signin')
    await sessionRequest(base, admin, '/signin', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: admin.csrf, email: ADMIN.email, password: ADMIN.password }).toString() })
    await sessionPage(base, admin, '/admin/apis/new')
    const document = githubDocument()
    const fields = { name: 'GitHub', path: 'github', serviceUrl: backendUrl, description: '' }
    const idle = await measured({ base, gatewayPath: '/gateway/ping/x', pages: [], readers: 0, durationMs: 5000, save: null })
    const save = await measured({ base, gatewayPath: '/gateway/ping/x', pages: [], readers: 0, durationMs: 0, save: { path: '/admin/apis', cookie: admin.cookie, csrf: admin.csrf, fields, document } })
    if (save.saveStatus !== 303) throw new Error(`the save answered ${String(save.saveStatus)}`)
    const api = await app.db('apis').where('path', 'github').first('id') as { id: number }
    await app.services.products.addApi(product.id, api.id, ACTOR)

    // Every page, as a reader finds them by following links from the overview.
    const root = `/apis/${api.id}`
    const pages: string[] = [root]
    const seen = new Set(pages)
    let largest = { bytes: 0, url: '' }
    for (let i = 0; i < pages.length; i++) {
      const html = await (await fetch(`${base}${pages[i]}`)).text()
      if (html.length > largest.bytes) largest = { bytes: Buffer.byteLength(html), url: pages[i] }
      for (const [, href] of html.matchAll(/href="([^"#]+)"/g)) {
        const target = href.replace(/&amp;/g, '&')
        if (target.startsWith(`${root}/`) && !target.startsWith(`${root}/openapi`) && !target.startsWith(`${root}/search`) && !seen.has(target)) { seen.add(target); pages.push(target) }
      }
    }

    // The largest operation page against a bare eta render of the same data.
    const biggest = await app.db('api_operations').where('revision', app.db('apis').where('id', api.id).select('reference_revision')).orderByRaw('length(view) desc').first('key')
    const source = app.services.apis.references.source(api.id)
    const overview = await source.overview()
    const operation = await source.operation(biggest.key)
    if (overview === null || operation === null) throw new Error('the reference was not drawn')
    const { orgName, signupEnabled } = await app.services.settings.getSettings()
    const links = referenceLinks(root)
    const data = {
      orgName, signupEnabled, me: null, path: links.operation(operation.key), flash: null, values: {}, errors: {}, formatDate, textBlocks, csrf: () => '',
      api: { id: api.id, name: 'GitHub', path: 'github', description: '', hasDocument: true }, overview, crumbs: [{ href: '/apis', label: 'APIs' }], links, base: root,
      downloads: { imported: true, gateway: true }, q: '', title: `${operation.method} ${operation.path} · GitHub`, operation,
      schemes: [], samples: codeSamples(sampleRequest(`${app.config.gatewayUrl}/github`, operation, overview.securitySchemes, subscriptionKeyHeader(null))),
      subscriptions: [], subscription: null, tryIt: true, signedIn: false, fieldName, errorLinks: {}, keyHeader: 'Ocp-Apim-Subscription-Key', portalAuth: 'subscription-key'
    }
    const bare = fastify()
    await bare.register(view, { engine: { eta: new Eta({ views: viewsDir, autoEscape: true, cache: true }) }, templates: viewsDir, production: true })
    bare.get('/', async (_request, reply) => await reply.type('text/html; charset=utf-8').viewAsync('reference/operation', data))
    await bare.listen({ port: 0, host: '127.0.0.1' })
    const load = async (url: string) => await autocannon({ url, connections: 4, duration: 5 })
    const baseline = await load(`http://127.0.0.1:${(bare.server.address() as AddressInfo).port}/`)
    await bare.close()
    const portal = await load(`${base}${links.operation(operation.key)}`)

    // Ten readers paging through the reference; then the same while the administrator saves the document again.
    const reading = await measured({ base, gatewayPath: '/gateway/ping/x', pages, readers: READERS, durationMs: 8000, save: null })
    await sessionPage(base, admin, `/admin/apis/${api.id}`)
    const busy = await measured({ base, gatewayPath: '/gateway/ping/x', pages, readers: READERS, durationMs: 0, save: { path: `/admin/apis/${api.id}`, cookie: admin.cookie, csrf: admin.csrf, fields, document } })
    if (busy.saveStatus !== 303) throw new Error(`the second save answered ${String(busy.saveStatus)}`)

    const out = (line: string): void => { process.stdout.write(`${line}\n`) }
    out(`GitHub's REST document: ${(document.length / 1e6).toFixed(1)} MB, ${pages.length} pages in its reference`)
    out(`save through the form: ${save.seconds.toFixed(1)} s; longest event-loop stall ${save.stallMs.toFixed(0)} ms; /healthz p99 ${ms(save.health, 99)}, max ${ms(save.health, 100)}; RSS ${save.rssMb.toFixed(0)} MB (the document worker's process: ${save.workerMb.toFixed(0)} MB)`)
    out(`largest page: ${largest.bytes} bytes (${largest.url})`)
    out(`largest operation page (${operation.key}): bare eta p50 ${baseline.latency.p50} ms, p99 ${baseline.latency.p99} ms, ${baseline.requests.average.toFixed(0)} req/s | portal p50 ${portal.latency.p50} ms, p99 ${portal.latency.p99} ms, ${portal.requests.average.toFixed(0)} req/s (${(portal.requests.average / baseline.requests.average * 100).toFixed(0)}% of bare)${portal.non2xx > 0 ? `, ${portal.non2xx} non-2xx` : ''}`)
    out(`idle: gateway p50 ${ms(idle.gateway, 50)}, p99 ${ms(idle.gateway, 99)}; /healthz p99 ${ms(idle.health, 99)}; longest stall ${idle.stallMs.toFixed(0)} ms; RSS ${idle.rssMb.toFixed(0)} MB`)
    out(`${READERS} readers (${reading.seconds.toFixed(1)} s, ${reading.pages.length} pages read, p50 ${ms(reading.pages, 50)}, p99 ${ms(reading.pages, 99)}, ${reading.pageFailures} failed): gateway p50 ${ms(reading.gateway, 50)}, p99 ${ms(reading.gateway, 99)} (${(percentile(reading.gateway, 99) / Math.max(0.1, percentile(idle.gateway, 99))).toFixed(1)}× idle); /healthz p99 ${ms(reading.health, 99)}; longest stall ${reading.stallMs.toFixed(0)} ms; RSS ${reading.rssMb.toFixed(0)} MB`)
    out(`${READERS} readers + a save (${busy.seconds.toFixed(1)} s, ${busy.pages.length} pages read, p50 ${ms(busy.pages, 50)}, p99 ${ms(busy.pages, 99)}, ${busy.pageFailures} failed): gateway p50 ${ms(busy.gateway, 50)}, p99 ${ms(busy.gateway, 99)} (${(percentile(busy.gateway, 99) / Math.max(0.1, percentile(idle.gateway, 99))).toFixed(1)}× idle); /healthz p99 ${ms(busy.health, 99)}, max ${ms(busy.health, 100)}; longest stall ${busy.stallMs.toFixed(0)} ms; RSS ${busy.rssMb.toFixed(0)} MB (the document worker's process: ${busy.workerMb.toFixed(0)} MB)`)
  })
  backend.close()
}

run(main)
