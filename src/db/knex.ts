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

// How long a write waits for another process's lock on the file: the busy handler waits this long
// per try, and a transaction's BEGIN is tried again until WRITE_WAIT_MS have passed.
const BUSY_TIMEOUT_MS = 10_000
const WRITE_WAIT_MS = 60_000

// knex's SQLite dialect, and the transaction class it makes; neither ships types of its own.
const ClientSqlite3 = require('knex/lib/dialects/sqlite3') as new (config: Knex.Config) => SqliteClient
const TransactionSqlite = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction') as new (...args: unknown[]) => SqliteTransaction

interface SqliteClient { transaction (...args: unknown[]): SqliteTransaction }
interface SqliteTransaction {
  trxClient: { query: (conn: unknown, sql: string) => Promise<unknown> }
  begin (conn: unknown): Promise<unknown>
}

export function isSqliteBusy (err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'SQLITE_BUSY'
}

/**
 * Transactions that take the write lock when they begin (BEGIN IMMEDIATE). A transaction begun
 * with a plain BEGIN reads first and asks for the lock at its first write; if another process
 * wrote in between, SQLite refuses at once with SQLITE_BUSY (the busy handler cannot help: the
 * snapshot it read is stale). Taking the lock first means the busy handler waits for it, and a
 * BEGIN that still finds the file locked is tried again: nothing has run yet, so that is safe.
 */
class ImmediateTransaction extends TransactionSqlite {
  override async begin (conn: unknown): Promise<unknown> {
    const giveUp = Date.now() + WRITE_WAIT_MS
    for (;;) {
      try {
        return await this.trxClient.query(conn, 'BEGIN IMMEDIATE;')
      } catch (err) {
        if (!isSqliteBusy(err) || Date.now() > giveUp) throw err
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
}

class SqliteImmediateClient extends ClientSqlite3 {
  override transaction (...args: unknown[]): SqliteTransaction {
    return new ImmediateTransaction(this, ...args)
  }
}

/** Opens the database named by DATABASE_URL: `sqlite:PATH` or a postgres:// URL. */
export function createDb (databaseUrl: string): Db {
  if (databaseUrl.startsWith('sqlite:')) {
    const filename = resolve(databaseUrl.slice('sqlite:'.length))
    mkdirSync(dirname(filename), { recursive: true })
    return knexFactory({
      // knex's sqlite3 dialect, its transactions begun IMMEDIATE (several processes may share the file).
      client: SqliteImmediateClient as unknown as typeof knexFactory.Client,
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
              conn.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`, (err3) => done(err3, conn))
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

