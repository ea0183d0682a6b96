import type { Knex } from 'knex'

export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_events', (t) => {
    t.increments('id')
    t.string('created_at', 24).notNullable().index()
    // No foreign keys: the log outlives the accounts it names, so labels are copied in.
    t.integer('actor_id').index()
    t.string('actor_label', 300).notNullable()
    t.string('action', 64).notNullable().index()
    t.string('target_type', 32)
    t.integer('target_id')
    t.string('target_label', 300)
    t.string('ip', 64)
    t.text('details')
    t.index(['target_type', 'target_id'])
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_events')
}
