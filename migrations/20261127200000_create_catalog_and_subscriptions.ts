import type { Knex } from 'knex'

/** APIs, products, subscriptions and their keys (issue 11). */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('apis', (t) => {
    t.increments('id')
    t.string('name', 200).notNullable()
    t.string('name_normalized', 200).notNullable().index()
    // The URL suffix on the gateway: lower-case segments, unique.
    t.string('path', 200).notNullable().unique()
    t.string('service_url', 2000).notNullable()
    t.text('description').notNullable().defaultTo('')
    // The OpenAPI document as imported (json | yaml), and the reference drawn from it (JSON).
    t.text('openapi_document')
    t.string('openapi_format', 8)
    t.text('openapi_reference')
    t.string('created_at', 24).notNullable()
    t.string('updated_at', 24).notNullable()
  })

  await knex.schema.createTable('products', (t) => {
    t.increments('id')
    t.string('name', 200).notNullable()
    t.string('name_normalized', 200).notNullable().unique()
    t.text('description').notNullable().defaultTo('')
    t.string('state', 16).notNullable()
    t.boolean('subscription_required').notNullable()
    t.boolean('approval_required').notNullable()
    t.integer('subscriptions_limit')
    t.text('terms').notNullable().defaultTo('')
    // Calls per period (seconds); quota: calls per day | week | month. Null: no limit.
    t.integer('rate_limit_calls')
    t.integer('rate_limit_period')
    t.integer('quota_calls')
    t.string('quota_period', 8)
    t.string('created_at', 24).notNullable()
    t.string('updated_at', 24).notNullable()
  })

  await knex.schema.createTable('product_apis', (t) => {
    t.integer('product_id').notNullable().references('id').inTable('products').onDelete('CASCADE')
    t.integer('api_id').notNullable().references('id').inTable('apis').onDelete('CASCADE')
    t.primary(['product_id', 'api_id'])
    t.index(['api_id', 'product_id'])
  })

  await knex.schema.createTable('product_groups', (t) => {
    t.integer('product_id').notNullable().references('id').inTable('products').onDelete('CASCADE')
    t.integer('group_id').notNullable().references('id').inTable('groups').onDelete('CASCADE')
    t.primary(['product_id', 'group_id'])
    t.index(['group_id', 'product_id'])
  })

  await knex.schema.createTable('subscriptions', (t) => {
    t.increments('id')
    // A deleted account's subscriptions are cancelled and kept (owner null) for the record.
    t.integer('developer_id').references('id').inTable('developers').onDelete('SET NULL')
    t.integer('product_id').notNullable().references('id').inTable('products').onDelete('CASCADE')
    t.string('display_name', 100).notNullable()
    t.string('state', 16).notNullable()
    t.string('state_reason', 1000)
    t.string('created_at', 24).notNullable()
    t.string('approved_at', 24)
    t.string('ended_at', 24)
    t.string('expires_at', 24)
    t.string('updated_at', 24).notNullable()
    t.index(['developer_id', 'state'])
    t.index(['product_id', 'state'])
    t.index(['state', 'created_at'])
    t.index(['created_at'])
  })

  // One row per key: the gateway finds a key by its digest in one unique-index look-up.
  await knex.schema.createTable('subscription_keys', (t) => {
    t.integer('subscription_id').notNullable().references('id').inTable('subscriptions').onDelete('CASCADE')
    t.string('slot', 16).notNullable()
    t.string('digest', 64).notNullable().unique()
    t.string('sealed', 200).notNullable()
    t.string('created_at', 24).notNullable()
    t.primary(['subscription_id', 'slot'])
  })

  // A value sealed with KEY_SECRET: start-up opens it, so a wrong secret stops the app at once.
  await knex.schema.createTable('secret_checks', (t) => {
    t.string('purpose', 64).primary()
    t.string('sealed', 200).notNullable()
  })

  // As the reference product: Starter and Unlimited, unpublished, without APIs, seen by developers and guests.
  const now = new Date().toISOString()
  const base = { state: 'notPublished', subscription_required: true, terms: '', created_at: now, updated_at: now }
  const [starter] = await knex('products').insert({
    ...base,
    name: 'Starter',
    name_normalized: 'starter',
    description: 'Subscribers will be able to run 5 calls/minute up to a maximum of 100 calls/week.',
    approval_required: false,
    rate_limit_calls: 5,
    rate_limit_period: 60,
    quota_calls: 100,
    quota_period: 'week'
  }).returning('id')
  const [unlimited] = await knex('products').insert({
    ...base,
    name: 'Unlimited',
    name_normalized: 'unlimited',
    description: 'Subscribers have completely unlimited access to the API. Administrator approval is required.',
    approval_required: true
  }).returning('id')
  const groups: Array<{ id: number }> = await knex('groups').whereIn('system_key', ['developers', 'guests']).select('id')
  const idOf = (row: number | { id: number }): number => typeof row === 'number' ? row : row.id
  await knex('product_groups').insert([starter, unlimited].flatMap((p) => groups.map((g) => ({ product_id: idOf(p), group_id: g.id }))))
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('secret_checks')
  await knex.schema.dropTable('subscription_keys')
  await knex.schema.dropTable('subscriptions')
  await knex.schema.dropTable('product_groups')
  await knex.schema.dropTable('product_apis')
  await knex.schema.dropTable('products')
  await knex.schema.dropTable('apis')
}
