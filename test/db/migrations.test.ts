import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createDb, migrate } from '../../src/db/knex'
import { migrationSource } from '../../src/db/migration-source'
import { makeConfig } from '../helpers'

t.test('migrations create the schema with the system groups, and roll all the way back', async (t) => {
  const db = createDb((await makeConfig(t)).databaseUrl)
  t.teardown(async () => await db.destroy())
  await migrate(db)
  for (const table of ['developers', 'groups', 'developer_groups', 'invitation_tokens', 'sessions', 'audit_events', 'attempt_counters']) {
    t.ok(await db.schema.hasTable(table), table)
  }
  t.same(await db('groups').orderBy('id').pluck('system_key'), ['administrators', 'developers', 'guests'])
  await migrate(db)
  t.equal(Number((await db('groups').count({ n: '*' }).first())?.n), 3, 'running again changes nothing')

  await db.migrate.rollback({ migrationSource }, true)
  for (const table of ['developers', 'groups', 'developer_groups', 'invitation_tokens', 'sessions', 'audit_events', 'attempt_counters']) {
    t.notOk(await db.schema.hasTable(table), `${table} dropped`)
  }
  await migrate(db)
  t.ok(await db.schema.hasTable('developers'), 'and forward again')
})

t.test('SQLite runs with foreign keys on and WAL', async (t) => {
  // Always SQLite here, whatever database the rest of the suite runs on.
  const dir = mkdtempSync(join(tmpdir(), 'portico-sqlite-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = createDb(`sqlite:${join(dir, 'portico.sqlite')}`)
  t.teardown(async () => await db.destroy())
  const [fk] = await db.raw('PRAGMA foreign_keys')
  t.equal(fk.foreign_keys, 1)
  const [journal] = await db.raw('PRAGMA journal_mode')
  t.equal(journal.journal_mode, 'wal')
})

t.test('emails delivered before links were sealed lose their links on migration; waiting ones keep them', async (t) => {
  const db = createDb((await makeConfig(t)).databaseUrl)
  t.teardown(async () => await db.destroy())
  await migrate(db)
  // Back, one migration at a time, to just before the sealing one.
  for (let i = 0; i < 30 && await db.schema.hasColumn('outbox_emails', 'sealed_links'); i++) await db.migrate.down({ migrationSource })
  t.notOk(await db.schema.hasColumn('outbox_emails', 'sealed_links'), 'back before the sealing migration')
  const link = `http://localhost:3000/password-reset/${'a'.repeat(43)}`
  const row = { template: 'password-reset', to_address: 'dev@example.com', subject: 'Reset', attempts: 1, next_attempt_at: '2026-01-01T00:00:00.000Z', created_at: '2026-01-01T00:00:00.000Z' }
  await db('outbox_emails').insert([
    { ...row, text_body: `Open ${link}`, html_body: `<a href="${link}">${link}</a>`, status: 'sent' },
    { ...row, text_body: `Open ${link}`, html_body: `<a href="${link}">${link}</a>`, status: 'queued' }
  ])
  await migrate(db)
  const [sent, queued] = await db('outbox_emails').orderBy('id')
  t.notMatch(sent.text_body + sent.html_body, /a{43}/, 'delivered: scrubbed')
  t.match(sent.text_body, /\/password-reset\/\[link removed after delivery\]/)
  t.match(queued.text_body, link, 'still to be delivered: kept')
})

t.test('the Developers list index rolls back and forward, and backfills what was written meanwhile', async (t) => {
  const db = createDb((await makeConfig(t)).databaseUrl)
  t.teardown(async () => await db.destroy())
  await migrate(db)
  const account = (n: number, state: string): Record<string, string> => ({
    email: `dev${n}@example.com`, email_normalized: `dev${n}@example.com`, first_name: `Dev${n}`, last_name: 'Zanzibar', name_normalized: `dev${n} zanzibar`, state, created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z'
  })
  await db('developers').insert([account(1, 'active'), account(2, 'blocked')])
  t.same((await db('developer_counts').where('group_id', 0).orderBy('state').select('state', 'n')).map((r: { state: string, n: number | string }) => [r.state, Number(r.n)]), [['active', 1], ['blocked', 1], ['pending', 0]])

  // Back past that migration (and any later one).
  for (let i = 0; i < 30 && await db.schema.hasTable('developer_counts'); i++) await db.migrate.down({ migrationSource })
  t.notOk(await db.schema.hasTable('api_tokens'), 'later migrations roll back too')
  t.notOk(await db.schema.hasTable('developer_counts'), 'the counts are gone')
  t.notOk(await db.schema.hasTable('developer_list_version'), 'and the version')
  // Written while the triggers were gone: the migration forward must count and index these too.
  await db('developers').insert([account(3, 'active'), account(4, 'pending')])
  const developers = await db('groups').where('system_key', 'developers').first('id')
  const ids: number[] = await db('developers').pluck('id')
  await db('developer_groups').insert(ids.map((id) => ({ developer_id: id, group_id: developers.id, created_at: '2026-01-01T00:00:00.000Z' })))

  await migrate(db)
  const counts = Object.fromEntries((await db('developer_counts').whereIn('group_id', [0, developers.id]).select('group_id', 'state', 'n'))
    .map((r: { group_id: number, state: string, n: number | string }) => [`${r.group_id === 0 ? 'all' : 'developers'}:${r.state}`, Number(r.n)]))
  t.same(counts, { 'all:active': 2, 'all:blocked': 1, 'all:pending': 1, 'developers:active': 2, 'developers:blocked': 1, 'developers:pending': 1 }, 'counted again from the tables')
  if (db.client.config.client === 'pg') {
    const indexes: { rows: Array<{ indexname: string }> } = await db.raw("select indexname from pg_indexes where tablename = 'developers' and indexname like '%trigram'")
    t.same(indexes.rows.map((r) => r.indexname).sort(), ['developers_email_trigram', 'developers_name_trigram'], 'the trigram indexes (pg_trgm) are there')
  } else {
    const found: Array<{ rowid: number }> = await db.raw("select rowid from developer_search where developer_search match '\"zanzibar\"' order by rowid")
    t.same(found.map((r) => r.rowid), ids.sort((a, b) => a - b), 'the search index holds every account, those written meanwhile too')
  }
})

t.test('usage by operation: rows counted before keep their class (status 0), and rolling back folds status and operation away', async (t) => {
  const db = createDb((await makeConfig(t)).databaseUrl)
  t.teardown(async () => await db.destroy())
  await migrate(db)
  const row = (status: number, operation: string, calls: number) => ({
    hour: 3_600_000, api_id: 1, product_id: 2, subscription_id: 3, developer_id: 4, status_class: 2, status, outcome: 'forwarded', operation, calls, latency_ms: calls * 10, lat_10: calls
  })
  await db('gateway_usage').insert([row(200, 'GET /a', 2), row(201, 'POST /a', 3), row(200, '', 1)])
  await t.rejects(db('gateway_usage').insert(row(200, 'GET /a', 1)), 'one row per hour, status and operation')
  for (let i = 0; i < 30 && await db.schema.hasColumn('gateway_usage', 'operation'); i++) await db.migrate.down({ migrationSource })
  t.same((await db('gateway_usage').select('status_class', 'calls', 'latency_ms')).map((r: Record<string, number | string>) => [Number(r.status_class), Number(r.calls), Number(r.latency_ms)]), [[2, 6, 60]], 'folded into the row of its class')
  await migrate(db)
  t.same(await db('gateway_usage').select('status', 'operation', 'lat_10'), [{ status: 0, operation: '', lat_10: 0 }], 'forward again: status unknown (0), no operation, no buckets')
})
