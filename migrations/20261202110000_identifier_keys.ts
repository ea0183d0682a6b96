import type { Knex } from 'knex'
import { identifierKey } from '../src/services/kernel/text-rules'

/**
 * Emails and group names are compared by identifierKey (issue 20): NFKC with case folding, and
 * letters of other alphabets drawn like Latin ones taken as those. Keys made by plain lower-casing
 * differ only where the text is not ASCII: those rows get the new key. A row whose new key another
 * row already has (two look-alikes made before this rule) keeps its old key, so both stay; an
 * administrator can tell them apart by their details.
 */
const NOT_ASCII = { pg: "?? ~ '[^ -~]'", sqlite3: "?? glob '*[^ -~]*'" }

async function rekey (knex: Knex, table: 'developers' | 'groups', source: 'email' | 'name', key: 'email_normalized' | 'name_normalized'): Promise<void> {
  const dialect = knex.client.config.client === 'pg' ? 'pg' : 'sqlite3'
  const rows: Array<{ id: number, text: string, key: string }> = await knex(table).whereRaw(NOT_ASCII[dialect], [source]).select('id', `${source} as text`, `${key} as key`)
  for (const row of rows) {
    const fresh = identifierKey(row.text)
    if (fresh === row.key) continue
    const taken = await knex(table).where(key, fresh).whereNot('id', row.id).first('id')
    if (taken === undefined) await knex(table).where('id', row.id).update({ [key]: fresh })
  }
}

export async function up (knex: Knex): Promise<void> {
  await rekey(knex, 'developers', 'email', 'email_normalized')
  await rekey(knex, 'groups', 'name', 'name_normalized')
}

export async function down (knex: Knex): Promise<void> {
  // Back to plain lower-casing, where that key is free.
  for (const [table, source, key] of [['developers', 'email', 'email_normalized'], ['groups', 'name', 'name_normalized']] as const) {
    const dialect = knex.client.config.client === 'pg' ? 'pg' : 'sqlite3'
    const rows: Array<{ id: number, text: string }> = await knex(table).whereRaw(NOT_ASCII[dialect], [source]).select('id', `${source} as text`)
    for (const row of rows) {
      const old = row.text.trim().toLowerCase()
      if (await knex(table).where(key, old).whereNot('id', row.id).first('id') === undefined) await knex(table).where('id', row.id).update({ [key]: old })
    }
  }
}
