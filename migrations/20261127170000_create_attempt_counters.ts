import type { Knex } from 'knex'

export async function up (knex: Knex): Promise<void> {
  // Durable limits (password checks per email, emails per address), shared by every instance. The
  // key is a SHA-256 digest: what a visitor typed as an email (sometimes a password) is never kept.
  await knex.schema.createTable('attempt_counters', (t) => {
    t.string('counter_key', 64).primary()
    t.integer('attempts').notNullable()
    t.string('window_ends_at', 24).notNullable().index()
  })
  await knex.schema.dropTable('sign_in_failures')
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.createTable('sign_in_failures', (t) => {
    t.increments('id')
    t.string('email_normalized', 254).notNullable()
    t.string('created_at', 24).notNullable()
    t.index(['email_normalized', 'created_at'])
  })
  await knex.schema.dropTable('attempt_counters')
}
