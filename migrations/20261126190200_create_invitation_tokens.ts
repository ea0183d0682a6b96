import type { Knex } from 'knex'

export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('invitation_tokens', (t) => {
    t.increments('id')
    t.integer('developer_id').notNullable().references('id').inTable('developers').onDelete('CASCADE').index()
    // invitation | signup-confirmation | password-reset | email-change
    t.string('purpose', 32).notNullable()
    // SHA-256 of the token, hex: the token itself is only ever in the email.
    t.string('token_hash', 64).notNullable().unique()
    t.integer('created_by').references('id').inTable('developers').onDelete('SET NULL')
    t.string('created_at', 24).notNullable()
    t.string('expires_at', 24).notNullable()
    t.string('used_at', 24)
    t.string('ended_at', 24)
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('invitation_tokens')
}
