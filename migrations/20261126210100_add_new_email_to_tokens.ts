import type { Knex } from 'knex'

export async function up (knex: Knex): Promise<void> {
  // An email-change link carries the address it confirms.
  await knex.schema.alterTable('invitation_tokens', (t) => {
    t.string('new_email', 254)
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.alterTable('invitation_tokens', (t) => {
    t.dropColumn('new_email')
  })
}
