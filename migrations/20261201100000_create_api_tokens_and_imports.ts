import type { Knex } from 'knex'

/**
 * Automation (issue 14): management API tokens (only a SHA-256 digest is kept), and CSV imports
 * waiting between their preview and their run.
 */
export async function up (knex: Knex): Promise<void> {
  // A token acts as the administrator who made it; deleting that account ends its tokens.
  await knex.schema.createTable('api_tokens', (t) => {
    t.increments('id')
    t.string('name', 100).notNullable()
    t.string('token_hash', 64).notNullable().unique()
    // The first characters of the token, so an administrator can tell tokens apart.
    t.string('token_start', 16).notNullable()
    t.integer('created_by').notNullable().references('id').inTable('developers').onDelete('CASCADE')
    t.string('created_at', 24).notNullable()
    t.string('expires_at', 24).notNullable()
    t.string('last_used_at', 24)
    t.string('revoked_at', 24)
    t.index(['created_by'])
  })

  // A previewed CSV file's rows, kept until it is run (once) or an hour has passed.
  await knex.schema.createTable('csv_imports', (t) => {
    t.increments('id')
    t.integer('created_by').notNullable().references('id').inTable('developers').onDelete('CASCADE')
    t.string('mode', 10).notNullable()
    t.string('file_name', 300).notNullable()
    t.text('rows', 'longtext').notNullable()
    t.string('created_at', 24).notNullable()
    t.string('ran_at', 24)
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('csv_imports')
  await knex.schema.dropTable('api_tokens')
}
