import type { Knex } from 'knex'

export async function up (knex: Knex): Promise<void> {
  // Every email is written here in the transaction of the change that causes it; a background
  // sender delivers it. The row is the record of what was sent, kept after delivery.
  await knex.schema.createTable('outbox_emails', (t) => {
    t.increments('id')
    t.string('template', 40).notNullable()
    t.integer('developer_id').references('id').inTable('developers').onDelete('SET NULL').index()
    t.string('to_address', 254).notNullable()
    t.string('to_name', 201).notNullable().defaultTo('')
    t.string('subject', 500).notNullable()
    t.text('text_body').notNullable()
    t.text('html_body').notNullable()
    // queued | sending | sent | failed
    t.string('status', 16).notNullable()
    t.integer('attempts').notNullable().defaultTo(0)
    t.string('next_attempt_at', 24).notNullable()
    // While `sending`: until when this claim holds; a crashed sender's claim then lapses.
    t.string('locked_until', 24)
    t.text('last_error')
    t.string('created_at', 24).notNullable().index()
    t.string('sent_at', 24)
    t.index(['status', 'next_attempt_at'])
  })

  // Admin-edited templates. No row, or a null subject/body, means the default text in views/emails/.
  await knex.schema.createTable('email_templates', (t) => {
    t.string('name', 40).primary()
    t.string('subject', 500)
    t.text('body')
    t.boolean('enabled').notNullable().defaultTo(true)
    t.string('updated_at', 24).notNullable()
    t.integer('updated_by').references('id').inTable('developers').onDelete('SET NULL')
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('email_templates')
  await knex.schema.dropTable('outbox_emails')
}
