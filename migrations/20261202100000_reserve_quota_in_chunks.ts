import type { Knex } from 'knex'

/**
 * Quotas reserved in chunks (issue 20): `reserved` counts the calls instances have claimed this
 * period (never more than the quota), `calls` those they have made and written; `last_grant` is
 * how many the last claim got, read back by the same UPDATE that made it.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.alterTable('quota_usage', (t) => {
    t.bigInteger('reserved').notNullable().defaultTo(0)
    t.bigInteger('last_grant').notNullable().defaultTo(0)
  })
  await knex('quota_usage').update({ reserved: knex.ref('calls') })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.alterTable('quota_usage', (t) => {
    t.dropColumn('last_grant')
    t.dropColumn('reserved')
  })
}
