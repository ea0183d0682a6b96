import type { Knex } from 'knex'

export async function up (knex: Knex): Promise<void> {
  // Portal settings edited on /admin/settings; a missing key means its default.
  await knex.schema.createTable('settings', (t) => {
    t.string('key', 64).primary()
    t.text('value').notNullable()
    t.string('updated_at', 24).notNullable()
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('settings')
}
