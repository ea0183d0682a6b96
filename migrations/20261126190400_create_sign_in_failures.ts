import type { Knex } from 'knex'

export async function up (knex: Knex): Promise<void> {
  // Failed sign-ins per email, in the database so the limit holds across several instances.
  await knex.schema.createTable('sign_in_failures', (t) => {
    t.increments('id')
    t.string('email_normalized', 254).notNullable()
    t.string('created_at', 24).notNullable()
    t.index(['email_normalized', 'created_at'])
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('sign_in_failures')
}
