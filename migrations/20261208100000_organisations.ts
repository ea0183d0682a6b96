import type { Knex } from 'knex'

/**
 * Organisations (issue 26): teams with owners and members that own subscriptions, so an
 * application's keys do not hang on one person; invitations to join them (single use, expiring).
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('organisations', (t) => {
    t.increments('id').primary()
    t.string('name', 100).notNullable()
    // The name's comparison key (case, width and look-alikes folded): names are unique.
    t.string('name_normalized', 100).notNullable().unique()
    t.text('description').notNullable().defaultTo('')
    // active | blocked
    t.string('state', 16).notNullable().defaultTo('active')
    t.string('created_at', 24).notNullable()
    t.string('updated_at', 24).notNullable()
  })
  await knex.schema.createTable('organisation_members', (t) => {
    t.integer('organisation_id').notNullable().references('id').inTable('organisations').onDelete('CASCADE')
    t.integer('developer_id').notNullable().references('id').inTable('developers').onDelete('CASCADE')
    // owner | member
    t.string('role', 16).notNullable()
    t.string('created_at', 24).notNullable()
    t.primary(['organisation_id', 'developer_id'])
    t.index(['developer_id'])
  })
  await knex.schema.createTable('organisation_invitations', (t) => {
    t.increments('id').primary()
    t.integer('organisation_id').notNullable().references('id').inTable('organisations').onDelete('CASCADE')
    t.string('email', 254).notNullable()
    t.string('email_normalized', 254).notNullable()
    // The account invited: an existing one (joins through the link) or the pending one a Portico
    // invitation made (joins when it is accepted).
    t.integer('developer_id').notNullable().references('id').inTable('developers').onDelete('CASCADE')
    t.integer('invited_by').references('id').inTable('developers').onDelete('SET NULL')
    // SHA-256 of the link's token; null for an invitation that rides on a Portico invitation.
    t.string('token_hash', 64).unique()
    t.string('created_at', 24).notNullable()
    t.string('expires_at', 24).notNullable()
    t.string('used_at', 24)
    t.string('ended_at', 24)
    t.index(['organisation_id'])
    t.index(['developer_id'])
  })
  await knex.schema.alterTable('subscriptions', (t) => {
    // Owned by an organisation (its keys shown to every member) when set; else by developer_id alone.
    t.integer('organisation_id').references('id').inTable('organisations').onDelete('SET NULL')
    t.index(['organisation_id'])
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.alterTable('subscriptions', (t) => {
    t.dropIndex(['organisation_id'])
    t.dropForeign(['organisation_id'])
    t.dropColumn('organisation_id')
  })
  for (const table of ['organisation_invitations', 'organisation_members', 'organisations']) await knex.schema.dropTableIfExists(table)
}
