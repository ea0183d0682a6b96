import { readdirSync } from 'node:fs'
import { extname, join } from 'node:path'
import type { Knex } from 'knex'
import { rootDir } from '../paths'

interface Migration {
  up: (knex: Knex) => Promise<void>
  down: (knex: Knex) => Promise<void>
}

/**
 * Migrations live in the top-level migrations/ folder as TypeScript; once compiled they sit in
 * dist/migrations/ as JavaScript. This source reads whichever form matches the running code.
 */
const runningCompiled = extname(__filename) === '.js'
const dir = runningCompiled ? join(rootDir, 'dist', 'migrations') : join(rootDir, 'migrations')
const extension = runningCompiled ? '.js' : '.ts'

export const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations () {
    return readdirSync(dir)
      .filter((file) => file.endsWith(extension) && !file.endsWith('.d.ts'))
      .sort()
  },
  getMigrationName (file) {
    // Same name in either form, so a database migrated by one runs fine under the other.
    return file.slice(0, -extension.length)
  },
  async getMigration (file) {
    // require, not import(): under the test runner's TypeScript hook only require sees .ts files.
    return require(join(dir, file)) as Migration
  }
}
