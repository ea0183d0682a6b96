import type { Knex } from 'knex'

/**
 * Single sign-on and two-step sign-in (issue 25): OpenID Connect providers (the client secret
 * sealed with KEY_SECRET), the provider identities linked to accounts, the states of sign-ins
 * already completed (each state works once), TOTP secrets (sealed) and hashed recovery codes.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('identity_providers', (t) => {
    t.increments('id').primary()
    t.string('name', 100).notNullable()
    t.string('issuer', 500).notNullable()
    t.string('client_id', 500).notNullable()
    // Sealed (AES-256-GCM, KEY_SECRET); never shown again.
    t.text('client_secret').notNullable()
    t.string('scopes', 500).notNullable().defaultTo('openid email profile')
    t.string('groups_claim', 100).notNullable().defaultTo('')
    // Lines "claim value = Portico group name".
    t.text('group_map').notNullable().defaultTo('')
    t.boolean('create_accounts').notNullable().defaultTo(false)
    // One domain a line; empty: any.
    t.text('allowed_domains').notNullable().defaultTo('')
    t.boolean('enabled').notNullable().defaultTo(true)
    // Sign-ins through this provider also meet Portico's own TOTP step.
    t.boolean('local_mfa').notNullable().defaultTo(false)
    // The origins the provider's authorization and end-session endpoints are on (space-separated):
    // the pages' CSP lets forms lead there (a sign-in button's and sign-out's redirects).
    t.text('form_origins').notNullable().defaultTo('')
    t.string('created_at', 30).notNullable()
    t.string('updated_at', 30).notNullable()
  })
  await knex.schema.createTable('account_identities', (t) => {
    t.increments('id').primary()
    t.integer('provider_id').notNullable().references('id').inTable('identity_providers').onDelete('CASCADE')
    t.integer('developer_id').notNullable().references('id').inTable('developers').onDelete('CASCADE')
    // The provider's `sub` for this person.
    t.string('subject', 255).notNullable()
    t.string('created_at', 30).notNullable()
    t.string('last_sign_in_at', 30).notNullable()
    t.unique(['provider_id', 'subject'])
    t.index(['developer_id'])
  })
  await knex.schema.createTable('sign_in_states', (t) => {
    // SHA-256 of a completed sign-in's state: a callback that comes again is refused.
    t.string('state_hash', 64).primary()
    t.string('expires_at', 30).notNullable()
  })
  await knex.schema.createTable('account_mfa', (t) => {
    t.integer('developer_id').primary().references('id').inTable('developers').onDelete('CASCADE')
    // The TOTP secret (base32), sealed with KEY_SECRET.
    t.text('secret').notNullable()
    // Null while the account is enrolling (the secret shown, no code confirmed yet).
    t.string('enabled_at', 30)
    // The time step of the last code accepted: a code is accepted once.
    t.bigInteger('last_time_step')
    t.string('created_at', 30).notNullable()
  })
  await knex.schema.createTable('mfa_recovery_codes', (t) => {
    t.increments('id').primary()
    t.integer('developer_id').notNullable().references('id').inTable('developers').onDelete('CASCADE')
    // HMAC-SHA-256 of the code (keyed by KEY_SECRET).
    t.string('code_hash', 64).notNullable()
    t.string('used_at', 30)
    t.string('created_at', 30).notNullable()
    t.index(['developer_id'])
  })
}

export async function down (knex: Knex): Promise<void> {
  for (const table of ['mfa_recovery_codes', 'account_mfa', 'sign_in_states', 'account_identities', 'identity_providers']) await knex.schema.dropTableIfExists(table)
}
