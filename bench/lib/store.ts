import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import knexFactory from 'knex'

/** A database of its own on the PostgreSQL server, dropped after the run. */
export async function temporaryPostgres (adminUrl: string, suffix = ''): Promise<{ url: string, drop: () => Promise<void> }> {
  const name = `portico_bench_${process.pid}${suffix}`
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } })
  await admin.raw(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      await admin.raw(`drop database if exists ${name} with (force)`)
      await admin.destroy()
    }
  }
}

/**
 * Where a run keeps its data: a temporary folder (SQLite), or a temporary database when
 * `postgresUrl` is a postgres:// URL of a role that may create databases; removed after.
 */
export async function temporaryStore (postgresUrl: string, suffix = ''): Promise<{ env: Record<string, string>, remove: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-'))
  if (postgresUrl === '') return { env: { DATA_DIR: dir }, remove: async () => { rmSync(dir, { recursive: true, force: true }) } }
  const database = await temporaryPostgres(postgresUrl, suffix)
  return {
    env: { DATA_DIR: dir, DATABASE_URL: database.url },
    remove: async () => {
      await database.drop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
