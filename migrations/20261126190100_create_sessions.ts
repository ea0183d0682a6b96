import type { Knex } from 'knex'

export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('sessions', (t) => {
    t.string('sid', 128).primary()
    // Kept beside the data so an account's sessions can be ended in one statement.
    t.integer('account_id').references('id').inTable('developers').onDelete('CASCADE').index()
    t.text('data').notNullable()
    t.string('expires_at', 24).notNullable().index()
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('sessions')
}
