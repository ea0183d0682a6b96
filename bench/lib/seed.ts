import type { Knex } from 'knex'
import { isPostgres } from '../../src/db/knex'

/** N active and blocked accounts (every tenth blocked), all in Developers, in two statements. */
export async function seedAccounts (db: Knex, accounts: number, adminEmail: string): Promise<void> {
  const developers = await db('groups').where('system_key', 'developers').first('id') as { id: number }
  const now = new Date().toISOString()
  await db.transaction(async (trx) => {
    if (isPostgres(db)) {
      await trx.raw(`insert into developers (email, email_normalized, first_name, last_name, name_normalized, state, created_at, updated_at)
        select 'user' || n || '@example.org', 'user' || n || '@example.org', 'User' || n, 'Bench', 'user' || n || ' bench',
               case when i % 10 = 0 then 'blocked' else 'active' end, at, at
        from (select i, lpad(i::text, 6, '0') as n, to_char(timestamp '2025-01-01' + i * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at
              from generate_series(0, ? - 1) as i) as s`, [accounts])
    } else {
      await trx.raw(`with recursive s(i) as (select 0 union all select i + 1 from s where i < ? - 1)
        insert into developers (email, email_normalized, first_name, last_name, name_normalized, state, created_at, updated_at)
        select 'user' || n || '@example.org', 'user' || n || '@example.org', 'User' || n, 'Bench', 'user' || n || ' bench',
               case when i % 10 = 0 then 'blocked' else 'active' end, at, at
        from (select i, printf('%06d', i) as n, strftime('%Y-%m-%dT%H:%M:%fZ', 1735689600 + i * 60, 'unixepoch') as at from s)`, [accounts])
    }
    await trx.raw(`insert into developer_groups (developer_id, group_id, created_at)
      select id, ?, ? from developers where email_normalized <> ?`, [developers.id, now, adminEmail])
  })
  if (isPostgres(db)) await db.raw('analyze')
}

