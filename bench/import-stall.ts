/**
 * A 50,000-row CSV import (issue 20) and the process around it: the longest event-loop stall and
 * /healthz's answers while an administrator uploads the file, previews it and runs it over HTTP,
 * in invite mode and in create mode. Baseline in the same run: the same probes with the app idle.
 * Before the import ran in slices, 10,000 rows held the process for 16–22 s and 50,000 for 130 s.
 * Run: npm run bench:import        (SQLite)
 *      BENCH_POSTGRES=postgres://… npm run bench:import    (PostgreSQL)
 */
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { buildApp } from '../src/app'
import { loadConfig } from '../src/config'
import { run } from './lib/app'
import { percentile, sessionPage, sessionRequest, type Session } from './lib/http'
import { temporaryStore } from './lib/store'

const POSTGRES = process.env.BENCH_POSTGRES ?? ''
const ROWS = Number(process.env.BENCH_ROWS ?? 50_000)
const ADMIN = { firstName: 'Bench', lastName: 'Admin', email: 'bench-admin@example.com', password: 'benchmarks are not tests' }

async function main (): Promise<void> {
  const store = await temporaryStore(POSTGRES)
  const app = await buildApp(loadConfig({ PASSWORD_HASH_COST: '10', ...store.env }))
  try {
    await app.services.accounts.createFirstAdministrator(ADMIN, null)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const session: Session = { cookie: '', csrf: '' }
    await sessionPage(base, session, '/signin')
    await sessionRequest(base, session, '/signin', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: session.csrf, email: ADMIN.email, password: ADMIN.password }).toString() })

    /** Probes /healthz every 20 ms and watches the event loop while `work` runs. */
    async function measure (work: () => Promise<void>): Promise<{ stallMs: number, healthP50: number, healthP99: number, healthMax: number, seconds: number }> {
      const loop = monitorEventLoopDelay({ resolution: 5 })
      const answers: number[] = []
      let going = true
      const prober = (async () => {
        while (going) {
          const started = performance.now()
          await (await fetch(`${base}/healthz`)).text()
          answers.push(performance.now() - started)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      })()
      loop.enable()
      const started = performance.now()
      await work()
      const seconds = (performance.now() - started) / 1000
      loop.disable()
      going = false
      await prober
      return { stallMs: loop.max / 1e6, healthP50: percentile(answers, 50), healthP99: percentile(answers, 99), healthMax: Math.max(...answers), seconds }
    }
    const print = (what: string, m: Awaited<ReturnType<typeof measure>>): void => {
      process.stdout.write(`${POSTGRES === '' ? 'SQLite' : 'PostgreSQL'} | ${what} | ${m.seconds.toFixed(1)} s | longest stall ${m.stallMs.toFixed(0)} ms | /healthz p50 ${m.healthP50.toFixed(1)} ms, p99 ${m.healthP99.toFixed(1)} ms, max ${m.healthMax.toFixed(1)} ms\n`)
    }

    print('idle (baseline)', await measure(async () => { await new Promise((resolve) => setTimeout(resolve, 5000)) }))
    for (const mode of ['invite', 'create'] as const) {
      const lines = ['email,firstName,lastName,groups']
      for (let i = 0; i < ROWS; i++) lines.push(`${mode}${i}@example.com,Person,Number ${i},${mode === 'create' ? `Team ${i % 20}` : ''}`)
      const file = Buffer.from(lines.join('\r\n') + '\r\n')
      let id = ''
      print(`${ROWS.toLocaleString('en')} rows, ${mode}: upload and preview`, await measure(async () => {
        await sessionPage(base, session, '/admin/developers/import')
        const form = new FormData()
        form.append('_csrf', session.csrf)
        form.append('mode', mode)
        form.append('file', new Blob([file]), 'people.csv')
        const html = await (await sessionRequest(base, session, '/admin/developers/import', { method: 'POST', body: form })).text()
        id = /name="importId" value="(\d+)"/.exec(html)?.[1] ?? ''
        if (id === '') throw new Error('no preview')
      }))
      print(`${ROWS.toLocaleString('en')} rows, ${mode}: run, followed on its page`, await measure(async () => {
        await sessionPage(base, session, '/admin/developers/import')
        await sessionRequest(base, session, '/admin/developers/import', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: session.csrf, importId: id }).toString() })
        while (!(await sessionPage(base, session, `/admin/developers/import/${id}`)).includes('Import done')) await new Promise((resolve) => setTimeout(resolve, 250))
      }))
    }
  } finally {
    await app.close()
    await store.remove()
  }
}

run(main)
