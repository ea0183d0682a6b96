import type { Knex } from 'knex'

/**
 * CSV imports run in slices (issue 20): a previewed file's rows, one per line, and the run's
 * progress, written with each slice, so a run can be followed on its page and resumed where it
 * stopped.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('csv_import_rows', (t) => {
    t.integer('import_id').notNullable().references('id').inTable('csv_imports').onDelete('CASCADE')
    t.integer('line').notNullable()
    t.string('email', 300).notNullable()
    t.string('first_name', 300).notNullable()
    t.string('last_name', 300).notNullable()
    // The group names, as a JSON array.
    t.text('groups').notNullable()
    // Why the row cannot be imported, whatever the database holds (a bad address, a line repeated, Administrators), or null.
    t.text('problem')
    t.primary(['import_id', 'line'])
  })
  await knex.schema.alterTable('csv_imports', (t) => {
    t.dropColumn('rows')
    // previewing (rows being written), previewed, running, done, failed
    t.string('status', 12).notNullable().defaultTo('previewed')
    t.text('ignored_columns').notNullable().defaultTo('[]')
    t.integer('total_rows').notNullable().defaultTo(0)
    // The last line the run has done (its slices are transactions: up to here, every row is written or skipped).
    t.integer('done_line').notNullable().defaultTo(0)
    t.integer('done_rows').notNullable().defaultTo(0)
    t.integer('created').notNullable().defaultTo(0)
    t.integer('invited').notNullable().defaultTo(0)
    t.integer('skipped').notNullable().defaultTo(0)
    // Which run holds the import (a fresh value at each claim): a run that stalled and was taken over stops at its next slice.
    t.string('run_token', 32)
    t.string('heartbeat_at', 24)
    t.string('finished_at', 24)
    t.text('error')
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.alterTable('csv_imports', (t) => {
    for (const column of ['status', 'ignored_columns', 'total_rows', 'done_line', 'done_rows', 'created', 'invited', 'skipped', 'run_token', 'heartbeat_at', 'finished_at', 'error']) t.dropColumn(column)
  })
  await knex.schema.alterTable('csv_imports', (t) => { t.text('rows', 'longtext').notNullable().defaultTo('[]') })
  await knex.schema.dropTable('csv_import_rows')
}
