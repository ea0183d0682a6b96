/**
 * The gateway (issue 12) against a bare @fastify/reply-from proxy, in one run on one machine. Each
 * server runs in a process of its own (autocannon in this one), all on loopback:
 *   1. the backend alone (a tiny fastify app answering a 1 KB JSON body);
 *   2. a bare reply-from proxy to it, no checks;
 *   3. Portico's gateway, a valid key (cache warm), no rate limit or quota;
 *   4. the same with a rate limit and a quota that are never reached;
 *   5. an invalid key, refused at the edge;
 *   6. policies on: an API with GitHub's REST document (1,223 operations, each call matched to its
 *      operation by the compiled router), CORS for the calling origin and backend credentials
 *      added to every call.
 * autocannon: 50 connections, 12 s each in eight turns after a 2 s warm-up (BENCH_SECONDS, BENCH_ROUNDS to change; BENCH_VERBOSE=1 prints each turn). Prints requests/s,
 * p50/p99 latency, the serving process's CPU time per call, and 3, 4 and 6 against 2 (the median over
 * the rounds of each round's turn against the bare proxy's turn of the same round). Target: 3 and 6 ≥ 80% of 2, p99 within 2 ms of 2; 5 at least as fast as 2.
 * Run: npm run bench:gateway
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import type { AddressInfo } from 'node:net'
import autocannon from 'autocannon'
import fastify from 'fastify'
import replyFrom from '@fastify/reply-from'
import { run, withApp } from './lib/app'
import { githubDocument } from '../test/fixtures/openapi'
import { SERVER_NODE_FLAGS } from '../src/node-flags'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 12)
const CONNECTIONS = 50
const ACTOR = { id: null, label: 'bench', ip: null }
const BODY = JSON.stringify({ items: Array.from({ length: 12 }, (_, i) => ({ id: i, title: `Book number ${i}`, author: 'A. Writer', year: 1990 + i })) }).padEnd(1024, ' ')

type Role = 'backend' | 'bare' | 'portico'

/** The servers, each started by `node gateway.js <role> [backend URL]`; they report on stdout. */
async function serve (role: Role, backendUrl: string): Promise<void> {
  // A server lives as long as the run that started it, and tells it the CPU time it has used.
  process.once('disconnect', () => { process.exit(0) })
  process.on('message', (message: string) => {
    if (message !== 'cpu') return
    const used = process.cpuUsage()
    process.send?.({ cpuMicros: used.user + used.system })
  })
  if (role === 'backend') {
    const app = fastify()
    app.all('/*', async (_request, reply) => await reply.type('application/json').send(BODY))
    await app.listen({ port: 0, host: '127.0.0.1' })
    process.send?.({ url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` })
    return
  }
  if (role === 'bare') {
    const app = fastify()
    await app.register(replyFrom, { base: backendUrl, undici: { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 }, disableRequestLogging: true })
    app.all('/*', (request, reply) => { void reply.from(request.url) })
    await app.listen({ port: 0, host: '127.0.0.1' })
    process.send?.({ url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` })
    return
  }
  await withApp({ PASSWORD_HASH_COST: '10' }, async (app) => {
    const dev = await app.services.accounts.createAccount({ email: 'bench@example.com', firstName: 'Bench', lastName: 'Mark', password: 'quiet rivers run far and deep' }, [], ACTOR)
    const api = await app.services.apis.createApi({ name: 'Books', path: 'books', serviceUrl: backendUrl, description: '', openapi: '' }, ACTOR)
    const keys: Record<string, string> = {}
    for (const [name, limits] of [
      ['plain', { rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: '', quotaPeriod: '' }],
      ['limited', { rateLimitCalls: '1000000000', rateLimitPeriod: '60', quotaCalls: '1000000000', quotaPeriod: 'month' }]
    ] as const) {
      const product = await app.services.products.createProduct({ name, description: '', state: 'published', subscriptionRequired: true, approvalRequired: false, subscriptionsLimit: '', terms: '', ...limits }, ACTOR)
      await app.services.products.addApi(product.id, api.id, ACTOR)
      const subscription = await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: name }, ACTOR)
      const [own] = (await app.services.subscriptions.listOwn(dev.id)).filter((s) => s.id === subscription.id)
      keys[name] = own.keys.primary ?? ''
    }
    // 6: GitHub's document (drawn in the document worker), CORS and backend credentials on, in the
    // plain product (BENCH_NO_GITHUB=1 leaves it out, for profiles of scenario 3 alone).
    if (process.env.BENCH_NO_GITHUB === '1') {
      await app.listen({ port: 0, host: '127.0.0.1' })
      process.send?.({ url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/gateway/books`, keys })
      await new Promise<void>(() => {})
    }
    const github = await app.services.apis.createApi({ name: 'GitHub', path: 'github', serviceUrl: backendUrl, description: '', openapi: githubDocument() }, ACTOR)
    await app.services.apis.setPolicy(github.id, {
      corsOrigins: 'https://app.example.com', corsHeaders: '', keyHeader: '', keyQuery: '', backendHeaders: 'X-Backend-Token: bench-secret', backendQuery: 'client_id=bench',
      backendClear: false, suppliedSchemes: '', timeoutSeconds: '', mock: false
    }, ACTOR)
    const plain = (await app.services.products.listProducts()).find((p) => p.name === 'plain')
    if (plain !== undefined) await app.services.products.addApi(plain.id, github.id, ACTOR)
    // After the 13 MB import the process is busy for a while (measured: the first scenarios lost a
    // third of their speed without this pause): the run measures the steady state.
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.BENCH_SETTLE_MS ?? 20_000)))
    await app.listen({ port: 0, host: '127.0.0.1' })
    process.send?.({ url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/gateway/books`, keys })
    await new Promise<void>(() => {}) // until the run disconnects
  })
}

interface Started { child: ChildProcess, url: string, keys?: Record<string, string> }

/**
 * CPU pinning (BENCH_PIN=0 turns it off): on a machine of two cores or more, the proxies under test
 * (the bare one and Portico, never busy at the same time) share the last core alone, and autocannon
 * and the backend the others. Left to the scheduler, which process shares a core with which changes
 * from one second to the next, and the same code measured 53–97% of the bare proxy within an hour.
 */
const PIN = process.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && hasTaskset()
const PROXY_CPU = String(availableParallelism() - 1)
const OTHER_CPUS = `0-${availableParallelism() - 2}`

function hasTaskset (): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function pin (pid: number | undefined, cpus: string): void {
  if (PIN && pid !== undefined) execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' })
}

async function start (role: Role, backendUrl = ''): Promise<Started> {
  // Portico runs with the server's node flags (as `npm start` does); the bare proxy and the backend
  // with node's defaults. BENCH_APP_FLAGS: more node flags for the app's process alone (say
  // --cpu-prof --cpu-prof-dir=/tmp/prof, or --trace-gc).
  const flags = role === 'portico' ? [...SERVER_NODE_FLAGS, ...(process.env.BENCH_APP_FLAGS ?? '').split(' ').filter((flag) => flag !== '')] : []
  const child = fork(__filename, [role, backendUrl], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...flags] })
  pin(child.pid, role === 'backend' ? OTHER_CPUS : PROXY_CPU)
  return await new Promise((resolve, reject) => {
    child.once('message', (message: { url: string, keys?: Record<string, string> }) => { resolve({ child, ...message }) })
    child.once('exit', (code) => { reject(new Error(`${role} exited with ${String(code)}`)) })
  })
}

interface Result { name: string, rps: number, p50: number, p99: number, non2xx: number, errors: number, cpuPerCall: number, rounds: Array<{ rps: number, p99: number }> }
/** `server`: the process answering, whose CPU time per call is measured. */
interface Scenario { name: string, url: string, headers: Record<string, string>, server: ChildProcess }

/** The CPU time (user + system, µs) a server process has used so far. */
async function cpuOf (child: ChildProcess): Promise<number> {
  return await new Promise((resolve) => {
    const listen = (message: { cpuMicros?: number }): void => {
      if (message.cpuMicros === undefined) return
      child.off('message', listen)
      resolve(message.cpuMicros)
    }
    child.on('message', listen)
    child.send('cpu')
  })
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8)
const WARM_UP_SECONDS = 2
/** BENCH_VERBOSE=1 prints every turn as it ends. */
const VERBOSE = process.env.BENCH_VERBOSE === '1'

/**
 * Every scenario runs ROUNDS times for SECONDS / ROUNDS, the scenarios taking turns in the order
 * given (the bare proxy right before the gateway's scenarios), so a slow moment of this shared
 * machine falls on all of them alike. The figures are the rounds' means; each round's own
 * figures are kept too, for the comparison with the bare proxy's turn of the same round.
 */
async function measure (scenarios: Scenario[]): Promise<Result[]> {
  const sums: Result[] = scenarios.map((s) => ({ name: s.name, rps: 0, p50: 0, p99: 0, non2xx: 0, errors: 0, cpuPerCall: 0, rounds: [] }))
  const cpu = scenarios.map(() => ({ micros: 0, calls: 0 }))
  // Warm-up: connections, caches, and the JIT (the gateway's first seconds under load cost up to half as much again per call).
  for (const s of scenarios) await autocannon({ url: s.url, connections: CONNECTIONS, duration: WARM_UP_SECONDS, headers: s.headers })
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, s] of scenarios.entries()) {
      const before = await cpuOf(s.server)
      const r = await autocannon({ url: s.url, connections: CONNECTIONS, duration: SECONDS / ROUNDS, headers: s.headers })
      const used = await cpuOf(s.server) - before
      cpu[i].micros += used
      cpu[i].calls += r.requests.total
      if (VERBOSE) process.stdout.write(`round ${round + 1} ${s.name.slice(0, 24)}: ${r.requests.average.toFixed(0)}/s, p99 ${r.latency.p99} ms, ${(used / Math.max(1, r.requests.total)).toFixed(0)} µs/call\n`)
      sums[i].rps += r.requests.average / ROUNDS
      sums[i].p50 += r.latency.p50 / ROUNDS
      sums[i].p99 += r.latency.p99 / ROUNDS
      sums[i].rounds.push({ rps: r.requests.average, p99: r.latency.p99 })
      sums[i].non2xx += r.non2xx
      sums[i].errors += r.errors
    }
  }
  for (const [i, c] of cpu.entries()) sums[i].cpuPerCall = c.calls === 0 ? 0 : c.micros / c.calls
  return sums
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** A scenario against the bare proxy, round by round (each against the proxy's turn of its own round): the median ratio and p99 difference. */
function against (r: Result, proxy: Result): { ratio: number, p99: number } {
  return {
    ratio: median(r.rounds.map((round, i) => round.rps / proxy.rounds[i].rps)),
    p99: median(r.rounds.map((round, i) => round.p99 - proxy.rounds[i].p99))
  }
}

async function main (): Promise<void> {
  pin(process.pid, OTHER_CPUS)
  const backend = await start('backend')
  const bare = await start('bare', backend.url)
  const portico = await start('portico', backend.url)
  const keys = portico.keys ?? {}
  try {
    // The gateway's main scenarios either side of the bare proxy's turn: each round compares turns next to each other in time.
    const scenarios: Scenario[] = [
      { name: '3. Portico gateway, valid key', url: `${portico.url}/1`, headers: { 'ocp-apim-subscription-key': keys.plain }, server: portico.child },
      { name: '2. bare reply-from proxy', url: `${bare.url}/books/1`, headers: {}, server: bare.child },
      {
        name: '6. policies on: operation matched (GitHub\'s document), CORS, backend credentials',
        url: `${portico.url.replace(/\/books$/, '/github')}/repos/octo/hello/issues/1`,
        headers: { 'ocp-apim-subscription-key': keys.plain, origin: 'https://app.example.com' },
        server: portico.child
      },
      { name: '4. + rate limit and quota (never reached)', url: `${portico.url}/1`, headers: { 'ocp-apim-subscription-key': keys.limited }, server: portico.child },
      { name: '5. invalid key (401)', url: `${portico.url}/1`, headers: { 'ocp-apim-subscription-key': 'f'.repeat(32) }, server: portico.child },
      { name: '1. backend alone', url: `${backend.url}/books/1`, headers: {}, server: backend.child }
    ]
    const results = await measure(scenarios)
    const byNumber = (n: number): Result => {
      const found = results.find((r) => r.name.startsWith(`${n}.`))
      if (found === undefined) throw new Error(`no scenario ${n}`)
      return found
    }
    const proxy = byNumber(2)
    process.stdout.write(`\n${CONNECTIONS} connections, ${SECONDS} s each (${ROUNDS} rounds, taking turns), node ${process.version}, ${PIN ? `proxies pinned to CPU ${PROXY_CPU}, autocannon and the backend to ${OTHER_CPUS}` : 'no CPU pinning'}\n\n`)
    // The server's CPU time per call is steadier than requests/s on a shared machine: what the
    // process itself spends, whatever else the machine was doing meanwhile. "vs bare proxy" and
    // the p99 difference are medians over the rounds, each round against the proxy's own turn.
    process.stdout.write('| run | requests/s | p50 ms | p99 ms | vs bare proxy | p99 − bare p99 | server CPU µs/call | non-2xx |\n|---|---|---|---|---|---|---|---|\n')
    for (const r of [...results].sort((a, b) => a.name.localeCompare(b.name))) {
      const vs = against(r, proxy)
      process.stdout.write(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${(100 * vs.ratio).toFixed(0)}% | ${vs.p99.toFixed(1)} ms | ${r.cpuPerCall.toFixed(0)} | ${r.non2xx + r.errors} |\n`)
    }
    const [gateway, policies, limited, refused] = [3, 6, 4, 5].map((n) => ({ ...byNumber(n), ...against(byNumber(n), proxy) }))
    const met = (r: { ratio: number, p99: number }): string => `${r.ratio >= 0.8 && r.p99 <= 2 ? 'met' : 'missed'} (${(100 * r.ratio).toFixed(0)}%, ${r.p99.toFixed(1)} ms)`
    process.stdout.write(`\nRounds, vs the bare proxy's turn of the same round: 3: ${gateway.rounds.map((r, i) => `${(100 * r.rps / proxy.rounds[i].rps).toFixed(0)}%`).join(' ')}; 6: ${policies.rounds.map((r, i) => `${(100 * r.rps / proxy.rounds[i].rps).toFixed(0)}%`).join(' ')}\n`)
    process.stdout.write(`Target: 3 ≥ 80% of 2 and p99 within 2 ms: ${met(gateway)}; 4: ${(100 * limited.ratio).toFixed(0)}%;` +
      ` 5 ≥ 2: ${refused.ratio >= 1 ? 'met' : 'missed'} (${(100 * refused.ratio).toFixed(0)}%);` +
      ` 6 ≥ 80% of 2 and p99 within 2 ms: ${met(policies)}\n`)
    if (gateway.non2xx + gateway.errors + limited.non2xx + limited.errors + policies.non2xx + policies.errors > 0) process.stdout.write('WARNING: valid-key runs had failures\n')
  } finally {
    for (const server of [portico, bare, backend]) server.child.disconnect()
  }
}

const [role, backendUrl] = process.argv.slice(2)
if (role === 'backend' || role === 'bare' || role === 'portico') run(async () => { await serve(role, backendUrl ?? '') })
else run(main)
