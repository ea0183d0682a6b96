/**
 * A hash flood within the rate limits: 5 client addresses × 30 simultaneous sign-ins at the real
 * scrypt cost (2^17), while a monitor asks /healthz every 10 ms. Measures, in the same run, /healthz
 * alone (the baseline) and under the flood, and counts the answers: the target is no 5xx but 503,
 * and /healthz p99 under 250 ms. Run: npm run bench:flood
 */
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { run, withApp } from './lib/app'
import { percentile, postForm, visit } from './lib/http'

const ADDRESSES = 5
const PER_ADDRESS = 30

async function healthLatencies (base: string, until: () => boolean): Promise<number[]> {
  const latencies: number[] = []
  while (!until()) {
    const started = performance.now()
    await (await fetch(`${base}/healthz`)).text()
    latencies.push(performance.now() - started)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return latencies
}

async function main (): Promise<void> {
  // The proxy is this machine: X-Forwarded-For then names the five client addresses.
  await withApp({ TRUST_PROXY: '127.0.0.1' }, async (app) => {
    await app.services.accounts.createFirstAdministrator({ firstName: 'Bench', lastName: 'Admin', email: 'admin@example.com', password: 'benchmarks are not tests' }, null)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

    let stop = Date.now() + 3000
    const idle = await healthLatencies(base, () => Date.now() > stop)

    const clients = await Promise.all(Array.from({ length: ADDRESSES * PER_ADDRESS }, async (_, i) => {
      const headers = { 'x-forwarded-for': `203.0.113.${i % ADDRESSES}` }
      return { headers, visitor: await visit(base, '/signin', headers), i }
    }))
    let flooding = true
    const monitor = healthLatencies(base, () => !flooding)
    const started = performance.now()
    const answers = await Promise.all(clients.map(async ({ headers, visitor, i }) =>
      await postForm(base, '/signin', visitor, { email: `user${i % 40}@example.com`, password: 'a wrong password for them' }, headers)))
    const floodMs = performance.now() - started
    flooding = false
    const busy = await monitor

    const statuses = new Map<number, number>()
    for (const { status } of answers) statuses.set(status, (statuses.get(status) ?? 0) + 1)
    const fiveHundreds = answers.filter(({ status }) => status >= 500 && status !== 503).length
    const line = (label: string, values: number[]): string => `${label.padEnd(22)} p50 ${percentile(values, 50).toFixed(1)} ms  p99 ${percentile(values, 99).toFixed(1)} ms  (${values.length} checks)`
    process.stdout.write(`${ADDRESSES} addresses × ${PER_ADDRESS} sign-ins at cost 2^17, answered in ${(floodMs / 1000).toFixed(1)} s\n`)
    process.stdout.write(`answers: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${n} × ${s}`).join(', ')}; 5xx other than 503: ${fiveHundreds}\n`)
    process.stdout.write(`${line('/healthz alone', idle)}\n${line('/healthz under flood', busy)}\n`)
    process.stdout.write(`p99 ratio flood/alone: ${(percentile(busy, 99) / Math.max(percentile(idle, 99), 0.1)).toFixed(1)}; target p99 < 250 ms: ${percentile(busy, 99) < 250 ? 'met' : 'missed'}\n`)
  })
}

run(main)
