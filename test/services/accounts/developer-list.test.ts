// The Developers list (issue 13): every query shape against a straightforward reference (the plain
// SQL it replaced: LIKE over the table, count(*), OFFSET), on random data, on both engines; totals
// kept by triggers after every kind of change, including changes made at once.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Knex } from 'knex'
import { ACCOUNT_COLUMNS, toAccount, type AccountState } from '../../../src/services/accounts/account-store'
import { PAGE_SIZE, SORTS, type DeveloperQuery, type DeveloperSort } from '../../../src/services/accounts/developer-list'
import { likePattern } from '../../../src/db/paging'
import { makeApp } from '../../helpers'

const actor = { id: null, label: 'test', ip: '127.0.0.1' }

/** A small deterministic generator (mulberry32): a failure replays with the same data. */
function random (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6D2B79F5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

// Names and emails with what a LIKE pattern or a trigram index could get wrong: wildcards, quotes,
// backslashes, letters whose lower case depends on context (final sigma), characters that lower-case
// to two, accents, emoji; and plain ones so that many rows share pieces.
const FIRST = ['Ann', 'Anna', 'Zoë', 'ΟΔΥΣΣΕΥΣ', 'Σίσυφος', "O'Brien", '50%', 'under_score', 'back\\slash', 'quote"d', '😀Smile', 'İpek', 'Straße', 'Bob', 'Bobby', 'Li', 'ÉMILE', 'émile']
const LAST = ['Smith', 'Smithson', 'Ελένη', 'Nguyễn', 'de la Cruz', 'X', 'Müller', '100%_Sure', 'Zed']
const LOCAL = ['ann', 'a.nn', 'bob', 'zoe', '50%off', 'under_score', 'o.brien', 'x', 'smith', 'emile', 'li+tag']
const DOMAIN = ['example.com', 'example.org', 'mail.test', 'ann.example', 'bob.co']

interface Seeded { developersGroup: number, smallGroup: number, mediumGroup: number, ids: number[] }

/** `count` accounts straight into the tables (the triggers must keep up with any writer), in groups. */
async function seedAccounts (app: FastifyInstance, count: number, next: () => number): Promise<Seeded> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]
  const rows = Array.from({ length: count }, (_, i) => {
    const first = `${pick(FIRST)}${next() < 0.3 ? String(Math.floor(next() * 100)) : ''}`
    const last = pick(LAST)
    const email = `${pick(LOCAL)}${i}@${pick(DOMAIN)}`
    // Many share a second: ties in the sort column are broken by id.
    const at = new Date(Date.UTC(2025, 0, 1) + Math.floor(next() * count / 2) * 1000).toISOString()
    const roll = next()
    const state: AccountState = roll < 0.1 ? 'pending' : roll < 0.3 ? 'blocked' : 'active'
    return { email, email_normalized: email.toLowerCase(), first_name: first, last_name: last, name_normalized: `${first} ${last}`.toLowerCase(), state, created_at: at, updated_at: at }
  })
  await app.db.batchInsert('developers', rows, 200)
  const ids: number[] = await app.db('developers').orderBy('id').pluck('id')
  const developersGroup = (await app.db('groups').where('system_key', 'developers').first('id')).id as number
  const smallGroup = (await app.services.groups.createGroup({ name: 'Small', description: '' }, actor)).id
  const mediumGroup = (await app.services.groups.createGroup({ name: 'Medium', description: '' }, actor)).id
  const memberships = ids.flatMap((id) => [
    { developer_id: id, group_id: developersGroup, created_at: '2025-01-01T00:00:00.000Z' },
    ...(next() < 0.03 ? [{ developer_id: id, group_id: smallGroup, created_at: '2025-01-01T00:00:00.000Z' }] : []),
    ...(next() < 0.2 ? [{ developer_id: id, group_id: mediumGroup, created_at: '2025-01-01T00:00:00.000Z' }] : [])
  ])
  await app.db.batchInsert('developer_groups', memberships, 200)
  return { developersGroup, smallGroup, mediumGroup, ids }
}

/** The reference: the list as it was before issue 13, plain SQL over the whole table. */
async function referenceList (db: Knex, query: DeveloperQuery): Promise<{ ids: number[], total: number, page: number, pages: number }> {
  const base = query.state !== undefined ? db('developers').where('state', query.state) : db('developers').whereNot('state', 'pending')
  const q = query.q?.trim().toLowerCase() ?? ''
  if (q !== '') {
    const pattern = likePattern(q)
    void base.where((w) => {
      void w.whereRaw('email_normalized like ? escape ?', [pattern, '\\']).orWhereRaw('name_normalized like ? escape ?', [pattern, '\\'])
    })
  }
  if (query.groupId !== undefined) void base.join('developer_groups', 'developer_groups.developer_id', 'developers.id').where('developer_groups.group_id', query.groupId)
  const counted = await base.clone().count({ n: '*' }).first()
  const total = Number(counted?.n ?? 0)
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE))
  const page = Math.min(Math.max(1, query.page ?? 1), pages)
  const [column, direction] = SORTS[query.sort ?? '-registered']
  const rows = await base.clone().select('developers.id').orderBy(`developers.${column}`, direction).orderBy('developers.id', direction).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
  return { ids: rows.map((r: { id: number }) => r.id), total, page, pages }
}

async function same (t: Test, app: FastifyInstance, query: DeveloperQuery, label = JSON.stringify(query)): Promise<boolean> {
  const [got, expected] = await Promise.all([app.services.developers.list(query), referenceList(app.db, query)])
  return t.same({ ids: got.rows.map((r) => r.id), total: got.total, page: got.page, pages: got.pages }, expected, label)
}

const SORT_KEYS = Object.keys(SORTS) as DeveloperSort[]
// Searches that stress the pattern and the index: wildcards and quotes taken literally, short ones
// (under the trigram's three characters), case and context-dependent lower case, emoji, none.
const SEARCHES = ['%', '_', '"', "'", '\\', 'a', 'an', 'ann', 'ANN', '  bob  ', 'zoë', 'ë', 'σ', 'ς', 'ευς', 'ΕΥΣ', 'σσ', '😀', '😀s', 'i̇', 'straße',
  'STRASSE', 'example', '50%', '0%o', 'r_s', 'der_sc', 'e"d', "o'b", 'k\\s', 'smith', '@', '.co', 'nguyễn', '100%_', 'no such text', 'é']

t.test('every query shape gives what the plain SQL gives: totals, pages and rows in order', async (t) => {
  const app = await makeApp(t)
  const next = random(13)
  const seeded = await seedAccounts(app, 1_300, next)
  const groups = [undefined, seeded.developersGroup, seeded.smallGroup, seeded.mediumGroup, 999_999]
  const states = [undefined, 'active', 'blocked'] as const
  const pageChoices = [1, 2, 3, 21, 22, 23, 30, 47, 1000]

  let failures = 0
  for (let i = 0; i < 700 && failures < 5; i++) {
    const query: DeveloperQuery = {
      q: next() < 0.2 ? undefined : SEARCHES[Math.floor(next() * SEARCHES.length)],
      state: states[Math.floor(next() * states.length)],
      groupId: groups[Math.floor(next() * groups.length)],
      sort: SORT_KEYS[Math.floor(next() * SORT_KEYS.length)],
      page: pageChoices[Math.floor(next() * pageChoices.length)]
    }
    if (!await same(t, app, query)) failures++
  }

  // Deep pages of the large lists (anchors), asked out of order and again, for every sort.
  for (const sort of SORT_KEYS) {
    for (const base of [{}, { groupId: seeded.developersGroup }, { q: 'example' }, { state: 'active' as const }, { groupId: seeded.mediumGroup }]) {
      for (const page of [40, 23, 41, 22, 47, 40]) await same(t, app, { ...base, sort, page })
    }
  }
})

t.test('search finds substrings literally, in either column, whatever the characters', async (t) => {
  const app = await makeApp(t)
  await seedAccounts(app, 400, random(7))
  const all: Array<{ id: number, email_normalized: string, name_normalized: string }> = await app.db('developers').whereNot('state', 'pending').select('id', 'email_normalized', 'name_normalized')
  for (const search of SEARCHES) {
    const q = search.trim().toLowerCase()
    const expected = all.filter((r) => r.email_normalized.includes(q) || r.name_normalized.includes(q)).map((r) => r.id).sort((a, b) => a - b)
    const found: number[] = []
    const first = await app.services.developers.list({ q: search, sort: 'registered' })
    for (let page = 1; page <= first.pages; page++) found.push(...(await app.services.developers.list({ q: search, sort: 'registered', page })).rows.map((r) => r.id))
    t.same(found.sort((a, b) => a - b), expected, `"${search}"`)
    t.equal(first.total, expected.length, `"${search}": total`)
  }
})

async function referenceCounts (db: Knex): Promise<Record<string, number>> {
  const rows: Array<{ group_id: number, state: string, n: number | string }> = await db('developer_groups').join('developers', 'developers.id', 'developer_groups.developer_id')
    .select('developer_groups.group_id', 'developers.state').count({ n: '*' }).groupBy('developer_groups.group_id', 'developers.state')
  const everyone: Array<{ state: string, n: number | string }> = await db('developers').select('state').count({ n: '*' }).groupBy('state')
  const counts: Record<string, number> = {}
  for (const r of rows) counts[`${r.group_id}:${r.state}`] = Number(r.n)
  for (const r of everyone) counts[`0:${r.state}`] = Number(r.n)
  return counts
}

async function keptCounts (db: Knex): Promise<Record<string, number>> {
  const rows: Array<{ group_id: number, state: string, n: number | string }> = await db('developer_counts').where('n', '<>', 0).select('group_id', 'state', 'n')
  return Object.fromEntries(rows.map((r) => [`${r.group_id}:${r.state}`, Number(r.n)]))
}

t.test('totals follow every change: block, activate, delete, memberships, renames, groups, raw SQL', async (t) => {
  const app = await makeApp(t)
  const next = random(5)
  const seeded = await seedAccounts(app, 300, next)
  t.same(await keptCounts(app.db), await referenceCounts(app.db), 'after the seeding')

  // Remembered totals: the same query before and after each change must agree with the reference.
  const watched: DeveloperQuery[] = [{ q: 'ann' }, { q: 'example', state: 'blocked' }, { groupId: seeded.mediumGroup }, { groupId: seeded.smallGroup, q: 'a' }, { sort: 'name', page: 9 }, {}]
  const check = async (what: string): Promise<void> => {
    t.same(await keptCounts(app.db), await referenceCounts(app.db), `counts after ${what}`)
    for (const query of watched) await same(t, app, query, `${what}: ${JSON.stringify(query)}`)
    const byState = await app.services.developers.countByState()
    const reference = await referenceCounts(app.db)
    t.same(byState, { pending: reference['0:pending'] ?? 0, active: reference['0:active'] ?? 0, blocked: reference['0:blocked'] ?? 0 }, `${what}: per state`)
  }
  await check('nothing')

  const listed: number[] = await app.db('developers').whereNot('state', 'pending').orderBy('id').pluck('id')
  const [a, b, c, d, e] = listed
  await app.services.accounts.blockAccount(a, actor)
  await check('a block')
  await app.services.accounts.activateAccount(a, actor)
  await app.services.accounts.blockAccount(b, actor)
  await app.services.accounts.activateAccount(b, actor)
  await check('activations')
  await app.services.groups.addMemberById(seeded.smallGroup, c, actor)
  await app.services.groups.addMemberById(seeded.mediumGroup, c, actor)
  await check('members added')
  await app.services.groups.removeMember(seeded.mediumGroup, c, actor)
  await check('a member removed')
  await app.services.accounts.deleteAccount(d, actor)
  await check('a deletion')
  await app.services.profile.updateName(e, { firstName: 'Annabel', lastName: 'Newname' })
  await check('a rename')
  await app.db('developers').where('id', c).update({ email: 'fresh-ann@example.net', email_normalized: 'fresh-ann@example.net' })
  await check('an email changed in raw SQL')
  await app.db('developers').whereIn('id', listed.slice(10, 40)).update({ state: 'blocked' })
  await check('thirty blocked in one statement')
  await app.db('developers').whereIn('id', listed.slice(40, 50)).del()
  await check('ten deleted in one statement')
  const created = await app.services.accounts.createAccount({ firstName: 'Ann', lastName: 'Created', email: 'ann-created@example.com', password: 'a long and quiet river bend' }, [seeded.smallGroup], actor)
  t.ok(created.id)
  await check('an account created')
  const group = await app.services.groups.createGroup({ name: 'Fresh', description: '' }, actor)
  await app.services.groups.addMemberById(group.id, created.id, actor)
  await same(t, app, { groupId: group.id }, 'a new group lists its member')
  await app.services.groups.updateGroup(group.id, { name: 'Renamed', description: '' }, actor)
  t.ok((await app.services.developers.list({})).groups.some((g) => g.name === 'Renamed'), 'the filter offers the renamed group')
  await app.services.groups.deleteGroup(seeded.mediumGroup, actor)
  await check('a group deleted')
  t.notOk((await app.services.developers.list({})).groups.some((g) => g.id === seeded.mediumGroup), 'the filter no longer offers it')
})

t.test('changes made at once leave exact totals (and no transaction fails for the counters)', async (t) => {
  const app = await makeApp(t)
  const seeded = await seedAccounts(app, 200, random(21))
  const listed: number[] = await app.db('developers').whereNot('state', 'pending').orderBy('id').pluck('id')
  // Each account is touched by one operation only, so none has a reason to fail; they all share
  // the same counter rows.
  const work = listed.slice(0, 60).map(async (id, i) => {
    switch (i % 6) {
      case 0: return await app.services.accounts.blockAccount(id, actor)
      case 1: return await app.services.accounts.activateAccount(id, actor)
      case 2: return await app.services.groups.addMemberById(seeded.smallGroup, id, actor)
      case 3: return await app.services.groups.addMemberById(seeded.mediumGroup, id, actor)
      case 4: return await app.services.accounts.deleteAccount(id, actor)
      default: return await app.db('developers').where('id', id).update({ state: 'blocked' })
    }
  })
  const results = await Promise.allSettled(work)
  t.same(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), [], 'every change went through')
  t.same(await keptCounts(app.db), await referenceCounts(app.db), 'the counts are exact')
  await same(t, app, { state: 'blocked' })
  await same(t, app, { groupId: seeded.mediumGroup })
})

t.test('the list reads no more than a page: rows are in the listing, the groups for its filter too', async (t) => {
  const app = await makeApp(t)
  await seedAccounts(app, 60, random(3))
  const listing = await app.services.developers.list({ sort: 'email' })
  t.equal(listing.rows.length, PAGE_SIZE)
  t.same(Object.keys(listing.rows[0]).sort(), Object.keys(toAccount(Object.fromEntries(ACCOUNT_COLUMNS.map((c) => [c, null])) as never)).sort(), 'accounts as elsewhere')
  t.ok(listing.groups.some((g) => g.systemKey === 'developers'), 'the groups for the filter')
  const empty = await app.services.developers.list({ q: 'no such text at all' })
  t.same([empty.total, empty.pages, empty.page, empty.rows.length], [0, 1, 1, 0], 'nothing found: one empty page')
})
