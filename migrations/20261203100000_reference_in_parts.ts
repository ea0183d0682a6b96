import type { Knex } from 'knex'

/**
 * The API reference in parts (issue 21): each operation and component schema drawn on its own row,
 * so a page reads one; operations searchable; the document rewritten for the gateway, kept ready.
 * A save writes a new revision's rows in short transactions of their own (the one writer is never
 * held for long), then one short transaction makes it the API's; the old revision is removed after.
 * References drawn in the old, single-part form are dropped here and drawn again at start-up.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('api_revisions', (t) => {
    t.increments('id')
    t.string('created_at', 24).notNullable()
    // The document for calling through the gateway, in JSON and YAML, its server URL a placeholder.
    t.text('gateway_json')
    t.text('gateway_yaml')
  })
  await knex.schema.createTable('api_operations', (t) => {
    t.increments('id')
    t.integer('revision').notNullable().references('id').inTable('api_revisions').onDelete('CASCADE')
    t.integer('position').notNullable()
    // The operationId, or the method and path when it has none: the operation's page is /apis/:id/operations/:key.
    t.string('key', 2200).notNullable()
    t.string('method', 8).notNullable()
    t.text('path').notNullable()
    t.text('summary').notNullable()
    t.string('operation_id', 200).notNullable()
    // Lower-case: path, summary, operationId, tags, description.
    t.text('search_text').notNullable()
    // The drawn operation (JSON).
    t.text('view').notNullable()
    t.unique(['revision', 'key'])
    t.index(['revision', 'position'])
  })
  await knex.schema.createTable('api_operation_tags', (t) => {
    t.integer('revision').notNullable().references('id').inTable('api_revisions').onDelete('CASCADE')
    t.string('tag', 500).notNullable()
    t.integer('position').notNullable()
    t.integer('operation_id').notNullable().references('id').inTable('api_operations').onDelete('CASCADE')
    t.primary(['revision', 'tag', 'position'])
  })
  await knex.schema.createTable('api_schemas', (t) => {
    t.integer('revision').notNullable().references('id').inTable('api_revisions').onDelete('CASCADE')
    t.string('name', 1000).notNullable()
    t.integer('position').notNullable()
    t.text('view').notNullable()
    t.primary(['revision', 'name'])
    t.index(['revision', 'position'])
  })
  await knex.schema.alterTable('apis', (t) => {
    // The revision the pages show (no foreign key: SQLite could not drop it again; the code removes old revisions).
    t.integer('reference_revision')
  })
  await knex('apis').update({ openapi_reference: null })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.alterTable('apis', (t) => {
    t.dropColumn('reference_revision')
  })
  await knex.schema.dropTable('api_schemas')
  await knex.schema.dropTable('api_operation_tags')
  await knex.schema.dropTable('api_operations')
  await knex.schema.dropTable('api_revisions')
  // The old reference is drawn from the document at its next save; until then the page says it has none.
  await knex('apis').update({ openapi_reference: null })
}
