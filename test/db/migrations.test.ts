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
