/**
 * The Developers page at 100,000 accounts: search, filter, sort and page in SQL.
 * Seeds a temporary SQLite database, serves the real app on loopback and loads it with autocannon.
 * In the same run it first loads a bare page (fastify + @fastify/view + eta, 25 rows from memory: the
 * stack's ceiling) and prints each query's requests per second, latency and share of the bare page.
 * Run: npm run bench
 */
import type { AddressInfo } from 'node:net'
import autocannon from 'autocannon'
import { run, withApp } from './lib/app'
import { startBarePage } from './lib/bare-page'

const ACCOUNTS = 100_000
const DURATION_S = 5
const ADMIN = { firstName: 'Bench', lastName: 'Admin', email: 'bench-admin@example.com', password: 'benchmarks are not tests' }

const QUERIES: Record<string, string> = {
  'newest first': '/admin/developers',
  'page 2000 by name': '/admin/developers?sort=name&page=2000',
  'search "user0420"': '/admin/developers?q=user0420',
  'blocked by email': '/admin/developers?state=blocked&sort=email',
  'in Administrators': '/admin/developers?group=1',
  'in Developers': '/admin/developers?group=2'
}

async function main (): Promise<void> {
  await withApp({ PASSWORD_HASH_COST: '10' }, async (app) => {
    await app.services.accounts.createFirstAdministrator(ADMIN, null)
    const started = Date.now()
    const rows = Array.from({ length: ACCOUNTS }, (_, i) => {
      const n = String(i).padStart(6, '0')
      const at = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString()
      return { email: `user${n}@example.org`, email_normalized: `user${n}@example.org`, first_name: `User${n}`, last_name: 'Bench', name_normalized: `user${n} bench`, state: i % 10 === 0 ? 'blocked' : 'active', created_at: at, updated_at: at }
    })
    await app.db.batchInsert('developers', rows, 500)
    // Everyone is in Developers, as in a real portal.
    const developersGroup = await app.db('groups').where('system_key', 'developers').first('id')
    const ids: number[] = await app.db('developers').whereNot('email_normalized', ADMIN.email).pluck('id')
    await app.db.batchInsert('developer_groups', ids.map((id) => ({ developer_id: id, group_id: developersGroup.id, created_at: new Date().toISOString() })), 500)
    process.stdout.write(`seeded ${ACCOUNTS} accounts in ${Date.now() - started} ms\n`)

    const signIn = await app.inject({ method: 'GET', url: '/signin' })
    const csrf = /name="_csrf" value="([^"]+)"/.exec(signIn.body)?.[1] ?? ''
    const csrfCookie = signIn.cookies.find((c) => c.name === 'portico_csrf')?.value ?? ''
    const res = await app.inject({ method: 'POST', url: '/signin', cookies: { portico_csrf: csrfCookie }, payload: { _csrf: csrf, email: ADMIN.email, password: ADMIN.password } })
    const session = res.cookies.find((c) => c.name === 'portico_session')?.value ?? ''

    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const bare = await startBarePage()
    const bareResult = await autocannon({ url: bare.url, connections: 4, duration: DURATION_S })
    await bare.server.close()
    const bareRps = bareResult.requests.average
    process.stdout.write(`${'bare page'.padEnd(22)} ${bareRps.toFixed(0).padStart(6)} req/s  p50 ${bareResult.latency.p50} ms  p99 ${bareResult.latency.p99} ms  (100%)\n`)
    for (const [name, path] of Object.entries(QUERIES)) {
      const result = await autocannon({ url: `http://127.0.0.1:${port}${path}`, connections: 4, duration: DURATION_S, headers: { cookie: `portico_session=${session}` } })
      const rps = result.requests.average
      const share = `${(rps / bareRps * 100).toFixed(1)}% of the bare page`
      const errors = result.non2xx + result.errors
      process.stdout.write(`${name.padEnd(22)} ${rps.toFixed(0).padStart(6)} req/s  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms  ${share}${errors > 0 ? `  (${errors} failed)` : ''}\n`)
    }
  })
}

run(main)
