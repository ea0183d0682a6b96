import type { Knex } from 'knex'

export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('developers', (t) => {
    t.increments('id')
    t.string('email', 254).notNullable()
    // Trimmed and lower-cased: the unique index makes emails unique in any case.
    t.string('email_normalized', 254).notNullable().unique()
    t.string('first_name', 100).notNullable()
    t.string('last_name', 100).notNullable()
    // "first last" lower-cased, for search and sort by name.
    t.string('name_normalized', 201).notNullable().index()
    t.string('password_hash', 255)
    t.string('state', 16).notNullable()
    t.string('created_at', 24).notNullable().index()
    t.string('updated_at', 24).notNullable()
    t.string('last_sign_in_at', 24)
    // The Developers page filters by one state and sorts by name, email or date: each pair has an index.
    t.index(['state', 'created_at'])
    t.index(['state', 'name_normalized'])
    t.index(['state', 'email_normalized'])
  })

  await knex.schema.createTable('groups', (t) => {
    t.increments('id')
    t.string('name', 100).notNullable()
    t.string('name_normalized', 100).notNullable().unique()
    t.string('description', 1000).notNullable().defaultTo('')
    // administrators | developers | guests for the built-in groups; null for custom ones.
    t.string('system_key', 32).unique()
    t.string('created_at', 24).notNullable()
  })

  await knex.schema.createTable('developer_groups', (t) => {
    t.integer('developer_id').notNullable().references('id').inTable('developers').onDelete('CASCADE')
    t.integer('group_id').notNullable().references('id').inTable('groups').onDelete('CASCADE')
    t.string('created_at', 24).notNullable()
    t.primary(['developer_id', 'group_id'])
    t.index(['group_id', 'developer_id'])
  })

  const now = new Date().toISOString()
  await knex('groups').insert([
    { name: 'Administrators', name_normalized: 'administrators', system_key: 'administrators', description: 'Administrators manage the publisher portal: developers, groups, invitations and settings.', created_at: now },
    { name: 'Developers', name_normalized: 'developers', system_key: 'developers', description: 'Every developer who can sign in to the developer portal.', created_at: now },
    { name: 'Guests', name_normalized: 'guests', system_key: 'guests', description: 'Signed-out visitors of the developer portal. Takes no members.', created_at: now }
  ])
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('developer_groups')
  await knex.schema.dropTable('groups')
  await knex.schema.dropTable('developers')
}
