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
    // The document as imported. Not in the apis row: SQLite reads through a row's earlier columns to
    // reach a later one, so every read of an API would have read its megabytes.
    t.text('document').notNullable()
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
  // Each document moves to a revision of its own, with no parts yet: drawn again at start-up.
  const rows: Array<{ id: number, openapi_document: string }> = await knex('apis').whereNotNull('openapi_document').select('id', 'openapi_document')
  for (const row of rows) {
    const [inserted] = await knex('api_revisions').insert({ created_at: new Date().toISOString(), document: row.openapi_document }).returning('id')
    const revision = typeof inserted === 'object' ? (inserted as { id: number }).id : inserted
    await knex('apis').where('id', row.id).update({ reference_revision: revision, openapi_document: null })
  }
  await knex('apis').update({ openapi_reference: null })
}

export async function down (knex: Knex): Promise<void> {
  // The documents go back into their rows.
  const rows: Array<{ id: number, document: string }> = await knex('apis').join('api_revisions', 'api_revisions.id', 'apis.reference_revision').select('apis.id', 'api_revisions.document')
  for (const row of rows) await knex('apis').where('id', row.id).update({ openapi_document: row.document })
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
