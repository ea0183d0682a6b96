import type { Knex } from 'knex'

/**
 * A revision's gateway document remade for an API whose key names or supplied schemes are not the
 * defaults: kept beside the default one (which it is remade from, so nothing is lost when the
 * policy changes back), with the fingerprint of the names it was made with.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.alterTable('api_revisions', (t) => {
    t.text('named_json')
    t.text('named_yaml')
    t.text('gateway_names')
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.alterTable('api_revisions', (t) => {
    t.dropColumn('named_json')
    t.dropColumn('named_yaml')
    t.dropColumn('gateway_names')
  })
}
