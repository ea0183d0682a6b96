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
 * two transactions can never wait for each other's count rows. PostgreSQL 13 or later.
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

// SQLite (one writer, rows updated in place): per-row triggers. One statement for the counts a state
// change moves: the old state's rows down, the new one's up, for everyone and every group the
// account is in.
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
  // PostgreSQL keeps every version of a row a transaction updates until it ends: a counter updated
  // once per row of a bulk statement would grow a chain that each next update walks. So the counts
  // move once per statement (transition tables), and the version once per transaction.
  await knex.raw(`create function developer_list_bump() returns void language sql as $$
    update developer_list_version set version = version + 1 where id = 1 and xmin <> pg_current_xact_id()::xid
  $$`)
  await knex.raw(`create function developers_listed_insert() returns trigger language plpgsql as $$
    begin
      perform developer_list_bump();
      update developer_counts c set n = c.n + d.n from (select state, count(*) as n from new_rows group by state) d
        where c.group_id = 0 and c.state = d.state;
      return null;
    end $$`)
  await knex.raw(`create function developers_listed_update() returns trigger language plpgsql as $$
    begin
      -- Most updates (a sign-in's time, a password) change nothing the list shows.
      if not exists (select 1 from old_rows o join new_rows n on n.id = o.id
          where o.state <> n.state or o.email_normalized <> n.email_normalized or o.name_normalized <> n.name_normalized) then
        return null;
      end if;
      perform developer_list_bump();
      update developer_counts c set n = c.n + d.delta from (
          select g.group_id, m.state, sum(m.delta) as delta
          from (select o.id, o.state, -1 as delta from old_rows o join new_rows n on n.id = o.id where o.state <> n.state
                union all
                select n.id, n.state, 1 as delta from old_rows o join new_rows n on n.id = o.id where o.state <> n.state) m
          cross join lateral (select 0 as group_id union all select group_id from developer_groups where developer_id = m.id) g
          group by g.group_id, m.state) d
        where c.group_id = d.group_id and c.state = d.state;
      return null;
    end $$`)
  // Before each row goes, its memberships go (their own trigger counts them while the account is
  // still there to say in which state); then everyone's counts, once for the statement.
  await knex.raw(`create function developers_listed_before_delete() returns trigger language plpgsql as $$
    begin
      delete from developer_groups where developer_id = old.id;
      return old;
    end $$`)
  await knex.raw(`create function developers_listed_delete() returns trigger language plpgsql as $$
    begin
      perform developer_list_bump();
      update developer_counts c set n = c.n - d.n from (select state, count(*) as n from old_rows group by state) d
        where c.group_id = 0 and c.state = d.state;
      return null;
    end $$`)
  for (const [op, rows, sign] of [['insert', 'new_rows', '+'], ['delete', 'old_rows', '-']]) {
    await knex.raw(`create function developer_groups_listed_${op}() returns trigger language plpgsql as $$
      begin
        perform developer_list_bump();
        update developer_counts c set n = c.n ${sign} d.n
          from (select r.group_id, a.state, count(*) as n from ${rows} r join developers a on a.id = r.developer_id group by r.group_id, a.state) d
          where c.group_id = d.group_id and c.state = d.state;
        return null;
      end $$`)
  }
  await knex.raw(`create function groups_listed() returns trigger language plpgsql as $$
    begin
      perform developer_list_bump();
      if tg_op = 'INSERT' then
        insert into developer_counts (group_id, state, n) select new.id, state, 0 from developer_counts where group_id = 0;
        return null;
      elsif tg_op = 'UPDATE' then
        return null;
      else
        -- Before the memberships cascade: their trigger then finds no counts to move.
        delete from developer_counts where group_id = old.id;
        return old;
      end if;
    end $$`)
  const triggers = [
    'create trigger developers_listed_insert after insert on developers referencing new table as new_rows for each statement execute function developers_listed_insert()',
    'create trigger developers_listed_update after update on developers referencing old table as old_rows new table as new_rows for each statement execute function developers_listed_update()',
    'create trigger developers_listed_before_delete before delete on developers for each row execute function developers_listed_before_delete()',
    'create trigger developers_listed_delete after delete on developers referencing old table as old_rows for each statement execute function developers_listed_delete()',
    'create trigger developer_groups_listed_insert after insert on developer_groups referencing new table as new_rows for each statement execute function developer_groups_listed_insert()',
    'create trigger developer_groups_listed_delete after delete on developer_groups referencing old table as old_rows for each statement execute function developer_groups_listed_delete()',
    'create trigger groups_listed_insert_update after insert or update on groups for each row execute function groups_listed()',
    'create trigger groups_listed_delete before delete on groups for each row execute function groups_listed()'
  ]
  for (const sql of triggers) await knex.raw(sql)
}

export async function down (knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') {
    for (const [trigger, table] of [['developers_listed_insert', 'developers'], ['developers_listed_update', 'developers'], ['developers_listed_before_delete', 'developers'],
      ['developers_listed_delete', 'developers'], ['developer_groups_listed_insert', 'developer_groups'], ['developer_groups_listed_delete', 'developer_groups'],
      ['groups_listed_insert_update', 'groups'], ['groups_listed_delete', 'groups']]) {
      await knex.raw(`drop trigger ${trigger} on ${table}`)
    }
    for (const fn of ['developers_listed_insert', 'developers_listed_update', 'developers_listed_before_delete', 'developers_listed_delete',
      'developer_groups_listed_insert', 'developer_groups_listed_delete', 'groups_listed', 'developer_list_bump']) {
      await knex.raw(`drop function ${fn}()`)
    }
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
