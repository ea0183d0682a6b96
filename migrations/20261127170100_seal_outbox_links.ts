import type { Knex } from 'knex'

// The path of every emailed single-use link (invitation, sign-up, password reset, email change).
const TOKEN_LINK = /\/(invitations|confirm|password-reset|profile\/email)\/[A-Za-z0-9_-]{43}/g
const REMOVED = '/$1/[link removed after delivery]'

export async function up (knex: Knex): Promise<void> {
  // Token links are stored sealed (encrypted with KEY_SECRET) beside a placeholder in the body,
  // and dropped once delivered.
  await knex.schema.alterTable('outbox_emails', (t) => {
    t.text('sealed_links')
  })
  // Emails written before this change carry their links in clear: scrub the delivered ones.
  const rows: Array<{ id: number, text_body: string, html_body: string }> = await knex('outbox_emails').where('status', 'sent').select('id', 'text_body', 'html_body')
  for (const row of rows) {
    const text = row.text_body.replace(TOKEN_LINK, REMOVED)
    const html = row.html_body.replace(TOKEN_LINK, REMOVED)
    if (text !== row.text_body || html !== row.html_body) await knex('outbox_emails').where('id', row.id).update({ text_body: text, html_body: html })
  }
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox_emails', (t) => {
    t.dropColumn('sealed_links')
  })
}
