import type { Knex } from 'knex'

/**
 * Gateway policies: per API, CORS, the key's header and query names, backend credentials (sealed
 * with KEY_SECRET, never shown again), the security schemes the gateway supplies, the backend
 * timeout and mock answers; per product, the client addresses allowed to use its keys.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.alterTable('apis', (t) => {
    // One origin a line, or "*"; empty: no CORS.
    t.text('cors_origins').notNullable().defaultTo('')
    // Extra request headers a browser may send (one a line), besides the key header.
    t.text('cors_headers').notNullable().defaultTo('')
    // The header and query parameter that carry the key; null: Ocp-Apim-Subscription-Key, subscription-key.
    t.string('key_header', 100)
    t.string('key_query', 100)
    // Headers and query parameters added to every forwarded request: JSON, sealed; null: none.
    t.text('backend_secrets')
    // The document's security schemes the gateway supplies (one a line): the reference leaves them out.
    t.text('supplied_schemes').notNullable().defaultTo('')
    // Seconds the backend may take; null: the default (30).
    t.integer('timeout_seconds')
    t.boolean('mock').notNullable().defaultTo(false)
  })
  await knex.schema.alterTable('products', (t) => {
    // Client addresses and CIDR ranges allowed to use this product's keys, one a line; empty: any.
    t.text('ip_allow').notNullable().defaultTo('')
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.alterTable('products', (t) => { t.dropColumn('ip_allow') })
  await knex.schema.alterTable('apis', (t) => {
    for (const column of ['cors_origins', 'cors_headers', 'key_header', 'key_query', 'backend_secrets', 'supplied_schemes', 'timeout_seconds', 'mock']) t.dropColumn(column)
  })
}
