import type { Knex } from 'knex'

/**
 * The gateway (issue 12): a change counter every instance polls to learn that keys or the catalog
 * changed, durable quota counters, and hourly usage rows.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('gateway_state', (t) => {
    t.integer('id').primary()
    t.bigInteger('version').notNullable()
  })
  await knex('gateway_state').insert({ id: 1, version: 0 })

  // One row per subscription and quota period: calls so far (batched writes), and whether the
  // owner was warned at 90% (set by one conditional UPDATE, so one email whatever the instances).
  await knex.schema.createTable('quota_usage', (t) => {
    t.integer('subscription_id').notNullable().references('id').inTable('subscriptions').onDelete('CASCADE')
    t.string('period_start', 24).notNullable()
    t.bigInteger('calls').notNullable()
    t.boolean('warned').notNullable().defaultTo(false)
    t.primary(['subscription_id', 'period_start'])
  })

  // Calls per hour × API × product × subscription × developer × status class × outcome, with the
  // summed latency. 0 stands for "none" (no API matched, no key); no foreign keys, so history
  // outlives what it counts.
  await knex.schema.createTable('gateway_usage', (t) => {
    t.bigInteger('hour').notNullable()
    t.integer('api_id').notNullable()
    t.integer('product_id').notNullable()
    t.integer('subscription_id').notNullable()
    t.integer('developer_id').notNullable()
    t.smallint('status_class').notNullable()
    t.string('outcome', 24).notNullable()
    t.bigInteger('calls').notNullable()
    t.bigInteger('latency_ms').notNullable()
    t.unique(['hour', 'api_id', 'product_id', 'subscription_id', 'developer_id', 'status_class', 'outcome'])
    t.index(['subscription_id', 'hour'])
    t.index(['developer_id', 'hour'])
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('gateway_usage')
  await knex.schema.dropTable('quota_usage')
  await knex.schema.dropTable('gateway_state')
}
