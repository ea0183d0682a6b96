import type { Knex } from 'knex'

/**
 * The Developers list at a million accounts (issue 13), kept in step by triggers, so every path that
 * writes an account or a membership (forms, sign-up, invitations, the management API, imports, a
 * plain SQL insert) updates them in its own transaction:
 * - `developer_counts`: accounts per state, for everyone (group 0) and per group: exact totals
 *   without a count(*) over the list;
 * - `developer_list_version`: a number that grows with every change the list can see (an account
 *   added, deleted, renamed, its email or state changed, a membership, a group added, renamed or
 *   deleted). Whatever an instance remembers about the list (a search's total, where page 2000
 *   starts) is kept under the version it was read at and dropped when the version moves on;
 * - a substring index over the normalized email and name: SQLite FTS5 with the trigram tokenizer
 *   (`developer_search`, external content: it keeps no copy of the text), PostgreSQL pg_trgm GIN
 *   indexes (skipped, with a notice, where the role may not create the extension: search then scans);
 * - covering indexes for listed accounts (every state but pending) by each sort column.
 *
 * Every trigger bumps the version first: on PostgreSQL its row lock orders the writers of counts, so
 * two transactions can never wait for each other's count rows.
 *
 * Note for later migrations: knex rebuilds a SQLite table on some alterations (dropping a column,
 * changing a type), which drops its triggers; such a migration must create them again.
 */
const STATES = ['pending', 'active', 'blocked']
const SORT_COLUMNS = ['created_at', 'name_normalized', 'email_normalized']

export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('developer_counts', (t) => {
    // 0 stands for every account; other ids are groups (no foreign key: group 0 is not a group).
    t.integer('group_id').notNullable()
    t.string('state', 16).notNullable()
    t.bigInteger('n').notNullable()
    t.primary(['group_id', 'state'])
  })
  await knex.schema.createTable('developer_list_version', (t) => {
    t.integer('id').primary()
    t.bigInteger('version').notNullable()
  })
  await knex('developer_list_version').insert({ id: 1, version: 1 })
  // Backfill: a row per state for everyone and for every group, zero where nobody is.
  await knex.raw(`insert into developer_counts (group_id, state, n)
    select g.id, s.state, (select count(*) from developer_groups dg join developers d on d.id = dg.developer_id where dg.group_id = g.id and d.state = s.state)
    from (select 0 as id union all select id from groups) g
    cross join (${STATES.map((s) => `select '${s}' as state`).join(' union all ')}) s`)
  await knex.raw(`update developer_counts set n = (select count(*) from developers d where d.state = developer_counts.state) where group_id = 0`)

  for (const column of SORT_COLUMNS) {
    await knex.raw(`create index developers_listed_by_${column} on developers (${column}, id) where state <> 'pending'`)
  }

  if (knex.client.config.client === 'pg') await upPostgres(knex)
  else await upSqlite(knex)
}

// One statement for the counts a state change moves: the old state's rows down, the new one's up,
// for everyone and every group the account is in.
const MOVE_STATE = `update developer_counts set n = n + case when state = new.state then 1 else -1 end
    where state in (old.state, new.state) and (group_id = 0 or group_id in (select group_id from developer_groups where developer_id = new.id))`
const BUMP = 'update developer_list_version set version = version + 1 where id = 1'

async function upSqlite (knex: Knex): Promise<void> {
  await knex.raw(`create virtual table developer_search using fts5(email_normalized, name_normalized, content='developers', content_rowid='id', tokenize='trigram')`)
  await knex.raw(`insert into developer_search (developer_search) values ('rebuild')`)
  const triggers = [
    `create trigger developers_listed_insert after insert on developers begin
      ${BUMP};
      update developer_counts set n = n + 1 where group_id = 0 and state = new.state;
      insert into developer_search (rowid, email_normalized, name_normalized) values (new.id, new.email_normalized, new.name_normalized);
    end`,
    `create trigger developers_listed_state after update of state on developers when old.state <> new.state begin
      ${BUMP};
      ${MOVE_STATE};
    end`,
    `create trigger developers_listed_text after update of email_normalized, name_normalized on developers
      when old.email_normalized <> new.email_normalized or old.name_normalized <> new.name_normalized begin
      ${BUMP};
      insert into developer_search (developer_search, rowid, email_normalized, name_normalized) values ('delete', old.id, old.email_normalized, old.name_normalized);
      insert into developer_search (rowid, email_normalized, name_normalized) values (new.id, new.email_normalized, new.name_normalized);
    end`,
    // Before: the memberships go first, while the account is there to say which counts they hold.
    `create trigger developers_listed_delete before delete on developers begin
      ${BUMP};
      delete from developer_groups where developer_id = old.id;
      update developer_counts set n = n - 1 where group_id = 0 and state = old.state;
      insert into developer_search (developer_search, rowid, email_normalized, name_normalized) values ('delete', old.id, old.email_normalized, old.name_normalized);
    end`,
    `create trigger developer_groups_listed_insert after insert on developer_groups begin
      ${BUMP};
      update developer_counts set n = n + 1 where group_id = new.group_id and state = (select state from developers where id = new.developer_id);
    end`,
    `create trigger developer_groups_listed_delete after delete on developer_groups begin
      ${BUMP};
      update developer_counts set n = n - 1 where group_id = old.group_id and state = (select state from developers where id = old.developer_id);
    end`,
    `create trigger groups_listed_insert after insert on groups begin
      ${BUMP};
      insert into developer_counts (group_id, state, n) select new.id, state, 0 from developer_counts where group_id = 0;
    end`,
    `create trigger groups_listed_update after update on groups begin
      ${BUMP};
    end`,
    // Before: the counts go first, so the memberships the delete cascades to have none to move.
    `create trigger groups_listed_delete before delete on groups begin
      ${BUMP};
      delete from developer_counts where group_id = old.id;
    end`
  ]
  for (const sql of triggers) await knex.raw(sql)
}

async function upPostgres (knex: Knex): Promise<void> {
  // pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it. Where the role
  // may not, the list still works, by scanning.
  // A savepoint: a refusal rolls back to it and the migration carries on.
  const trigram = await knex.transaction(async (trx) => { await trx.raw('create extension if not exists pg_trgm') }).then(() => true, () => false)
  if (trigram) {
    await knex.raw('create index developers_email_trigram on developers using gin (email_normalized gin_trgm_ops)')
    await knex.raw('create index developers_name_trigram on developers using gin (name_normalized gin_trgm_ops)')
  } else {
    await knex.raw(`do $$ begin raise notice 'pg_trgm is not available: the Developers search will scan the table'; end $$`)
  }
  await knex.raw(`create function developers_listed() returns trigger language plpgsql as $$
    begin
      ${BUMP};
      if tg_op = 'INSERT' then
        update developer_counts set n = n + 1 where group_id = 0 and state = new.state;
        return null;
      elsif tg_op = 'UPDATE' then
        ${MOVE_STATE};
        return null;
      else
        delete from developer_groups where developer_id = old.id;
        update developer_counts set n = n - 1 where group_id = 0 and state = old.state;
        return old;
      end if;
    end $$`)
  await knex.raw(`create function developers_listed_text() returns trigger language plpgsql as $$
    begin ${BUMP}; return null; end $$`)
  await knex.raw(`create function developer_groups_listed() returns trigger language plpgsql as $$
    begin
      ${BUMP};
      if tg_op = 'INSERT' then
        update developer_counts set n = n + 1 where group_id = new.group_id and state = (select state from developers where id = new.developer_id);
      else
        update developer_counts set n = n - 1 where group_id = old.group_id and state = (select state from developers where id = old.developer_id);
      end if;
      return null;
    end $$`)
  await knex.raw(`create function groups_listed() returns trigger language plpgsql as $$
    begin
      ${BUMP};
      if tg_op = 'INSERT' then
        insert into developer_counts (group_id, state, n) select new.id, state, 0 from developer_counts where group_id = 0;
        return null;
      elsif tg_op = 'UPDATE' then
        return null;
      else
        delete from developer_counts where group_id = old.id;
        return old;
      end if;
    end $$`)
  const triggers = [
    'create trigger developers_listed_insert after insert on developers for each row execute function developers_listed()',
    'create trigger developers_listed_state after update of state on developers for each row when (old.state <> new.state) execute function developers_listed()',
    'create trigger developers_listed_delete before delete on developers for each row execute function developers_listed()',
    `create trigger developers_listed_text after update of email_normalized, name_normalized on developers for each row
      when (old.email_normalized <> new.email_normalized or old.name_normalized <> new.name_normalized) execute function developers_listed_text()`,
    'create trigger developer_groups_listed after insert or delete on developer_groups for each row execute function developer_groups_listed()',
    'create trigger groups_listed_insert_update after insert or update on groups for each row execute function groups_listed()',
    'create trigger groups_listed_delete before delete on groups for each row execute function groups_listed()'
  ]
  for (const sql of triggers) await knex.raw(sql)
}

export async function down (knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') {
    await knex.raw('drop trigger developers_listed_insert on developers')
    await knex.raw('drop trigger developers_listed_state on developers')
    await knex.raw('drop trigger developers_listed_delete on developers')
    await knex.raw('drop trigger developers_listed_text on developers')
    await knex.raw('drop trigger developer_groups_listed on developer_groups')
    await knex.raw('drop trigger groups_listed_insert_update on groups')
    await knex.raw('drop trigger groups_listed_delete on groups')
    for (const fn of ['developers_listed', 'developers_listed_text', 'developer_groups_listed', 'groups_listed']) await knex.raw(`drop function ${fn}()`)
    await knex.raw('drop index if exists developers_email_trigram')
    await knex.raw('drop index if exists developers_name_trigram')
    // pg_trgm stays: other databases' objects, or the administrator's, may use it.
  } else {
    for (const trigger of ['developers_listed_insert', 'developers_listed_state', 'developers_listed_text', 'developers_listed_delete',
      'developer_groups_listed_insert', 'developer_groups_listed_delete', 'groups_listed_insert', 'groups_listed_update', 'groups_listed_delete']) {
      await knex.raw(`drop trigger ${trigger}`)
    }
    await knex.raw('drop table developer_search')
  }
  for (const column of SORT_COLUMNS) await knex.raw(`drop index developers_listed_by_${column}`)
  await knex.schema.dropTable('developer_list_version')
  await knex.schema.dropTable('developer_counts')
}
