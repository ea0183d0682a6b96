import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import knexFactory, { type Knex } from 'knex'
import { migrationSource } from './migration-source'

export type Db = Knex

interface SqliteConnection {
  run: (sql: string, callback: (err: Error | null) => void) => void
}

/** Connections the SQLite read pool keeps (see createReadDb). */
export const SQLITE_READERS = 3

/** Opens the database named by DATABASE_URL: `sqlite:PATH` or a postgres:// URL. */
export function createDb (databaseUrl: string): Db {
  if (databaseUrl.startsWith('sqlite:')) {
    const filename = resolve(databaseUrl.slice('sqlite:'.length))
    mkdirSync(dirname(filename), { recursive: true })
    return knexFactory({
      client: 'sqlite3',
      connection: { filename },
      useNullAsDefault: true,
      pool: {
        // One connection: SQLite has one writer anyway, and this keeps transactions strictly serial.
        min: 1,
        max: 1,
        afterCreate (conn: SqliteConnection, done: (err: Error | null, conn: SqliteConnection) => void) {
          conn.run('PRAGMA foreign_keys = ON', (err) => {
            if (err) return done(err, conn)
            conn.run('PRAGMA journal_mode = WAL', (err2) => {
              if (err2) return done(err2, conn)
              conn.run('PRAGMA busy_timeout = 5000', (err3) => done(err3, conn))
            })
          })
        }
      }
    })
  }
  return knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 10 } })
}

/**
 * Connections for the busiest reads (each request's session, the Developers list). On SQLite in WAL
 * mode readers never wait for the writer, and several of them let one query run while the answer of
 * another travels back, where the single writer's connection would take them one at a time. Each
 * reader sees everything committed when its query starts. Read-only (`query_only`): a write by
 * mistake fails instead of bypassing the writer's order. PostgreSQL: the writer's pool does both.
 */
export function createReadDb (databaseUrl: string, writer: Db): Db {
  if (!databaseUrl.startsWith('sqlite:')) return writer
  return knexFactory({
    client: 'sqlite3',
    connection: { filename: resolve(databaseUrl.slice('sqlite:'.length)) },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: SQLITE_READERS,
      afterCreate (conn: SqliteConnection, done: (err: Error | null, conn: SqliteConnection) => void) {
        conn.run('PRAGMA busy_timeout = 5000', (err) => {
          if (err) return done(err, conn)
          conn.run('PRAGMA query_only = ON', (err2) => done(err2, conn))
        })
      }
    }
  })
}

export async function migrate (db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource })
}

export function isPostgres (db: Db | Knex.Transaction): boolean {
  return db.client.config.client === 'pg'
}

/** A unique index refused the row (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT UNIQUE): two writers raced. */
export function isUniqueViolation (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown, message?: unknown }
  return code === '23505' || (code === 'SQLITE_CONSTRAINT' && typeof message === 'string' && message.includes('UNIQUE'))
}
