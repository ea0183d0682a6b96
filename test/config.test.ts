import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config'
import { buildApp } from '../src/app'

function tempDir (t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('defaults: port 3000 on 127.0.0.1, SQLite in the data folder', async (t) => {
  const dir = tempDir(t)
  const config = loadConfig({ DATA_DIR: dir })
  t.equal(config.port, 3000)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.databaseUrl, `sqlite:${join(dir, 'portico.sqlite')}`)
  t.equal(config.publicUrl, 'http://localhost:3000')
  t.equal(config.smtpUrl, null)
  t.equal(config.mailFrom, 'Portico <no-reply@localhost>')
  t.equal(config.orgName, 'Portico')
  t.equal(config.invitationTtlHours, 48)
  t.equal(config.rateLimitPerMinute, 30)
  t.equal(config.signInFailureLimit, 10)
  t.equal(config.signInFailureWindowMinutes, 15)
  t.equal(config.passwordHashCost, 17)
  t.equal(loadConfig({ DATA_DIR: dir, PORT: '8080' }).publicUrl, 'http://localhost:8080')
})

t.test('the session secret is generated once and kept in the data folder', async (t) => {
  const dir = tempDir(t)
  const a = loadConfig({ DATA_DIR: dir }).sessionSecret
  const b = loadConfig({ DATA_DIR: dir }).sessionSecret
  t.ok(a.length >= 32)
  t.equal(a, b)
  t.equal(statSync(join(dir, 'session-secret')).mode & 0o777, 0o600, 'readable by the owner only')
  t.equal(loadConfig({ DATA_DIR: dir, SESSION_SECRET: 'x'.repeat(32) }).sessionSecret, 'x'.repeat(32))
})

t.test('TRUST_PROXY: false, true (one hop), a hop count, or a list of proxy addresses and CIDRs; never every hop', async (t) => {
  const dir = tempDir(t)
  const trust = (value?: string) => loadConfig({ DATA_DIR: dir, ...(value === undefined ? {} : { TRUST_PROXY: value }) }).trustProxy
  t.equal(trust(), false)
  t.equal(trust('false'), false)
  t.equal(trust('true'), 1)
  t.equal(trust('2'), 2)
  t.same(trust('10.0.0.1, 192.168.0.0/16,::1, fd00::/8'), ['10.0.0.1', '192.168.0.0/16', '::1', 'fd00::/8'])
})

t.test('bad configuration names the variable', async (t) => {
  const dir = tempDir(t)
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/db' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'sqlite:' }, 'DATABASE_URL'],
    [{ PUBLIC_URL: 'portal.example.com' }, 'PUBLIC_URL'],
    [{ SESSION_SECRET: 'too short' }, 'SESSION_SECRET'],
    [{ SMTP_URL: 'http://mail' }, 'SMTP_URL'],
    [{ INVITATION_TTL_HOURS: '0' }, 'INVITATION_TTL_HOURS'],
    [{ ADMIN_EMAIL: 'ops@example.com' }, 'ADMIN_PASSWORD'],
    [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.1, evil' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '0' }, 'TRUST_PROXY'],
    [{ KEY_SECRET: 'short' }, 'KEY_SECRET'],
    [{ PASSWORD_HASH_CONCURRENCY: '0' }, 'PASSWORD_HASH_CONCURRENCY'],
    [{ EMAILS_PER_ADDRESS_PER_HOUR: 'many' }, 'EMAILS_PER_ADDRESS_PER_HOUR'],
    [{ RATE_LIMIT_PER_MINUTE: '-1' }, 'RATE_LIMIT_PER_MINUTE'],
    [{ GATEWAY_PORT: 'api' }, 'GATEWAY_PORT'],
    [{ GATEWAY_PORT: '0' }, 'GATEWAY_PORT'],
    [{ PORT: '4000', GATEWAY_PORT: '4000' }, 'GATEWAY_PORT'],
    [{ GATEWAY_URL: 'ftp://api.example.com' }, 'GATEWAY_URL'],
    [{ GATEWAY_URL: 'http://localhost:3000/apis' }, 'GATEWAY_URL']
  ]
  for (const [env, variable] of cases) {
    t.throws(() => loadConfig({ DATA_DIR: dir, ...env }), new ConfigError(variable, ''), variable)
    try { loadConfig({ DATA_DIR: dir, ...env }) } catch (err) { t.match((err as Error).message, new RegExp(`^${variable}: `)) }
  }
  t.ok(loadConfig({ DATA_DIR: dir, DATABASE_URL: 'postgres://u:p@localhost:5432/portico' }))
  t.equal(loadConfig({ DATA_DIR: dir, GATEWAY_PORT: '3001' }).gatewayPort, 3001)
  t.equal(loadConfig({ DATA_DIR: dir }).gatewayPort, null, 'unset: the gateway is served by the portal\'s server only')
})

t.test('start-up with bad configuration stops with one clear line', async (t) => {
  const dir = tempDir(t)
  // The same TypeScript loader this test runs under.
  const run = spawnSync(process.execPath, [...process.execArgv, join(__dirname, '..', 'src', 'server.ts')], {
    env: { PATH: process.env.PATH, DATA_DIR: dir, PORT: 'eighty' },
    encoding: 'utf8',
    timeout: 60_000
  })
  t.equal(run.status, 1)
  t.equal(run.stderr.trim(), 'Portico cannot start: PORT: must be a whole number, got "eighty"')
})

t.test('a KEY_SECRET that is not the database\'s stops start-up with one clear line', async (t) => {
  const dir = tempDir(t)
  const server = join(__dirname, '..', 'src', 'server.ts')
  const env = { PATH: process.env.PATH, DATA_DIR: dir, PORT: '0', KEY_SECRET: 'a'.repeat(40) }
  // The first start writes the check into the new database.
  const app = await buildApp(loadConfig({ DATA_DIR: dir, KEY_SECRET: 'a'.repeat(40), PASSWORD_HASH_COST: '10' }))
  await app.close()
  const run = spawnSync(process.execPath, [...process.execArgv, server], { env: { ...env, KEY_SECRET: 'b'.repeat(40) }, encoding: 'utf8', timeout: 60_000 })
  t.equal(run.status, 1)
  t.match(run.stderr.trim(), /^Portico cannot start: KEY_SECRET: is not the secret this database was first used with/)
  t.equal(run.stderr.trim().split('\n').length, 1)
})
