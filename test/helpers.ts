import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import knexFactory, { type Knex } from 'knex'
import { buildApp, type BuildOptions } from '../src/app'
import { loadConfig, type Config } from '../src/config'
import type { Account } from '../src/services/accounts/account-store'
import { TestClock } from './clock'
import { startSmtp } from './smtp'

interface Teardown {
  teardown: (fn: () => unknown) => void
}

export const ADMIN = { firstName: 'Ada', lastName: 'Admin', email: 'ada@example.com', password: 'correct horse battery staple' }
export const DEV = { firstName: 'Dev', lastName: 'Eloper', email: 'dev@example.com', password: 'a long and quiet river bend' }

// With PORTICO_TEST_POSTGRES (a URL to a PostgreSQL server, as a role that may create databases),
// every test app gets a fresh PostgreSQL database instead of a SQLite file: `npm run test:postgres`.
const POSTGRES = process.env.PORTICO_TEST_POSTGRES

async function freshPostgresDatabase (t: Teardown): Promise<string> {
  const name = `portico_test_${randomBytes(6).toString('hex')}`
  const admin = knexFactory({ client: 'pg', connection: POSTGRES, pool: { min: 0, max: 1 } })
  await admin.raw(`create database ${name}`)
  t.teardown(async () => {
    // An autovacuum worker in the database makes a forced drop fail for a role without
    // pg_signal_backend (42501): it finishes quickly, so try again for a few seconds.
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.raw(`drop database if exists ${name} with (force)`)
        break
      } catch (err) {
        if ((err as { code?: string }).code !== '42501' || attempt >= 40) throw err
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }
    await admin.destroy()
  })
  const url = new URL(POSTGRES ?? '')
  url.pathname = `/${name}`
  return url.toString()
}

/** A fresh data folder (and database) with the app's real configuration loaded from these variables. */
export async function makeConfig (t: Teardown, env: Record<string, string> = {}): Promise<Config> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const database = POSTGRES !== undefined && env.DATABASE_URL === undefined ? { DATABASE_URL: await freshPostgresDatabase(t) } : {}
  // Low scrypt cost keeps tests fast; the hash format carries its own parameters.
  return loadConfig({ DATA_DIR: dir, PASSWORD_HASH_COST: '10', ...database, ...env })
}

/** The real app on a temporary SQLite file (or PostgreSQL database), closed when the test ends. */
export async function makeApp (t: Teardown, env: Record<string, string> = {}, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = await buildApp(await makeConfig(t, env), options)
  t.teardown(async () => await app.close())
  return app
}

export async function createAdmin (app: FastifyInstance, input = ADMIN): Promise<Account> {
  return await app.services.accounts.createFirstAdministrator(input, '127.0.0.1')
}

export async function createDeveloper (app: FastifyInstance, input = DEV, actor: Account | null = null): Promise<Account> {
  return await app.services.accounts.createAccount(input, [], { id: actor?.id ?? null, label: actor?.email ?? 'test', ip: '127.0.0.1' })
}

/** A browser-like client for app.inject: keeps cookies and the latest CSRF token from pages it loads. */
export class Client {
  readonly cookies = new Map<string, string>()
  csrf: string | null = null

  constructor (private readonly app: FastifyInstance, private readonly remoteAddress = '127.0.0.1') {}

  private remember (res: LightMyRequestResponse): LightMyRequestResponse {
    for (const cookie of res.cookies as Array<{ name: string, value: string, maxAge?: number, expires?: Date }>) {
      const expired = cookie.value === '' || (cookie.expires !== undefined && cookie.expires.getTime() < Date.now())
      if (expired) this.cookies.delete(cookie.name)
      else this.cookies.set(cookie.name, cookie.value)
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body)
    if (token !== null) this.csrf = token[1]
    return res
  }

  async request (options: InjectOptions): Promise<LightMyRequestResponse> {
    const cookies = Object.fromEntries(this.cookies)
    return this.remember(await this.app.inject({ remoteAddress: this.remoteAddress, ...options, cookies: { ...cookies, ...(options.cookies ?? {}) } }))
  }

  async get (url: string): Promise<LightMyRequestResponse> {
    return await this.request({ method: 'GET', url })
  }

  /** Posts a form; the CSRF token of the last page is added unless the fields carry their own. */
  async post (url: string, fields: Record<string, string | string[]> = {}): Promise<LightMyRequestResponse> {
    if (this.csrf === null && !('_csrf' in fields)) await this.get('/signin')
    const body = new URLSearchParams()
    for (const [name, value] of Object.entries({ _csrf: this.csrf ?? '', ...fields })) {
      for (const one of Array.isArray(value) ? value : [value]) body.append(name, one)
    }
    return await this.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: body.toString()
    })
  }

  /** Posts a multipart form, as a browser does for a form with a file input: `files` are name → [file name, content]. */
  async postMultipart (url: string, fields: Record<string, string>, files: Record<string, [string, string | Buffer]> = {}): Promise<LightMyRequestResponse> {
    if (this.csrf === null && !('_csrf' in fields)) await this.get('/signin')
    const form = new FormData()
    for (const [name, value] of Object.entries({ _csrf: this.csrf ?? '', ...fields })) form.append(name, value)
    for (const [name, [fileName, content]] of Object.entries(files)) form.append(name, new Blob([content]), fileName)
    const encoded = new Response(form)
    return await this.request({
      method: 'POST',
      url,
      headers: { 'content-type': encoded.headers.get('content-type') ?? '' },
      payload: Buffer.from(await encoded.arrayBuffer())
    })
  }

  async signIn (email: string, password: string): Promise<LightMyRequestResponse> {
    const res = await this.post('/signin', { email, password })
    if (res.statusCode === 303) await this.get('/profile') // a fresh CSRF token for the new session
    return res
  }
}

export async function signedInClient (app: FastifyInstance, who: { email: string, password: string }): Promise<Client> {
  const client = new Client(app)
  const res = await client.signIn(who.email, who.password)
  if (res.statusCode !== 303) throw new Error(`sign-in failed for ${who.email}: ${res.statusCode}`)
  return client
}

/** The app with a real SMTP server on loopback, an administrator (ADMIN) and a developer (DEV). */
export async function makeAppWithMail (t: Teardown, clock = new TestClock()) {
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url }, { clock })
  await createAdmin(app)
  const dev = await createDeveloper(app)
  return { app, smtp, clock, dev }
}

/** How many rows a query counts, as a number (PostgreSQL answers counts as text). */
export async function countOf (query: Knex.QueryBuilder): Promise<number> {
  return Number((await query.count({ n: '*' }).first())?.n ?? 0)
}

/** How many sessions an account has in the store. */
export async function sessionCount (app: FastifyInstance, accountId: number): Promise<number> {
  return Number((await app.db('sessions').where('account_id', accountId).count({ n: '*' }).first())?.n)
}
