import type { Knex } from 'knex'

const OLD_KEY = ['hour', 'api_id', 'product_id', 'subscription_id', 'developer_id', 'status_class', 'outcome']
// The latency buckets' upper bounds in ms, and one for slower calls (services/usage/latency.ts reads
// them; written out here, as a migration must not change with the code).
const BUCKET_COLUMNS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 120_000, 240_000].map((b) => `lat_${b}`).concat('lat_inf')
const NEW_KEY = ['hour', 'api_id', 'product_id', 'subscription_id', 'developer_id', 'status', 'outcome', 'operation']

/**
 * Usage per operation and exact status code, with latency histogram buckets (one column each) for
 * percentiles. Rows counted before this keep status 0 (only their class is known), no operation
 * and no buckets.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.alterTable('gateway_usage', (t) => {
    t.smallint('status').notNullable().defaultTo(0)
    // The matched operation of the API's document, as "GET /pets/{petId}"; '' for none.
    t.string('operation', 600).notNullable().defaultTo('')
    for (const column of BUCKET_COLUMNS) t.bigInteger(column).notNullable().defaultTo(0)
  })
  await knex.schema.alterTable('gateway_usage', (t) => {
    t.dropUnique(OLD_KEY)
    t.unique(NEW_KEY)
  })
}

export async function down (knex: Knex): Promise<void> {
  // Rows that differ only by status or operation are folded back into one.
  await knex.schema.alterTable('gateway_usage', (t) => { t.dropUnique(NEW_KEY) })
  const rows: Array<Record<string, number | string>> = await knex('gateway_usage').select(...OLD_KEY).sum({ calls: 'calls', latency_ms: 'latency_ms' }).groupBy(OLD_KEY)
  await knex.transaction(async (trx) => {
    await trx('gateway_usage').delete()
    for (let i = 0; i < rows.length; i += 200) await trx('gateway_usage').insert(rows.slice(i, i + 200))
  })
  await knex.schema.alterTable('gateway_usage', (t) => {
    t.dropColumn('status')
    t.dropColumn('operation')
    for (const column of BUCKET_COLUMNS) t.dropColumn(column)
    t.unique(OLD_KEY)
  })
}
