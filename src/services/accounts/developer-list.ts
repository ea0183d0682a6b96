import type { Knex } from 'knex'
import { ACCOUNT_COLUMNS, toAccount, type Account, type AccountState } from './account-store'
import { likePattern, type Page } from '../../db/paging'
import { isPostgres } from '../../db/knex'
import { listGroupSummaries, type GroupSummary } from '../groups/group-lookups'

export const PAGE_SIZE = 25

export const SORTS = {
  name: ['name_normalized', 'asc'],
  '-name': ['name_normalized', 'desc'],
  email: ['email_normalized', 'asc'],
  '-email': ['email_normalized', 'desc'],
  registered: ['created_at', 'asc'],
  '-registered': ['created_at', 'desc']
} as const

export type DeveloperSort = keyof typeof SORTS

export interface DeveloperQuery {
  q?: string
  state?: Exclude<AccountState, 'pending'>
  groupId?: number
  sort?: DeveloperSort
  page?: number
}

/** A page of the Developers list, with the groups its filter offers. */
export interface DeveloperListing extends Page<Account> {
  groups: GroupSummary[]
}

/** Accounts per listed state. */
interface Counts { active: number, blocked: number }

/** Where a page starts: its first row's sort value and id. */
interface Anchor { value: string, id: number }

/** What this instance knows about the list at one version (see the migration that made it). */
interface Memory {
  version: number
  /** A search's total, and the ids it matches when they are few, by search, state and group. */
  searches: Map<string, Matches>
  /** Ids kept in `searches`, all together. */
  ids: number
  /** Where deep pages start, by filter and sort, then page. */
  anchors: Map<string, Map<number, Anchor>>
  groups: GroupSummary[] | null
}

interface Matches { total: number, ids?: number[] }

/** Deeper than this many rows, a page is found from a remembered anchor rather than by OFFSET from the top. */
const ANCHOR_AFTER_ROWS = 500
/** Entries kept per version; past this, the memory starts again (the database stays the truth). */
const MEMORY_LIMIT = 5_000
/**
 * A search matching at least this share of the filtered accounts walks the sort order and tests each
 * row (a page fills quickly); a rarer one starts from the substring index and sorts what it finds.
 */
const WALK_SHARE = 0.1
/**
 * A search matching at most this many accounts has its matches remembered (ids): later pages and
 * sorts read them by id. On PostgreSQL the trigram index must read the posting list of every
 * trigram of the search, the common ones too (30 ms at a million accounts).
 */
const REMEMBERED_MATCHES = 1_000
/** Ids remembered per version, all searches together. */
const REMEMBERED_IDS = 50_000
/** A group holding at least this share of the accounts is walked in the sort order, like a search. */
const DENSE_GROUP_SHARE = 0.05

/**
 * The Developers page at any size: filtering, sorting and paging in SQL on indexes, and no scan in
 * the common case.
 * - Totals come from `developer_counts` (kept by triggers in the same transaction as each change);
 *   a search's total is counted once per version of the list and remembered.
 * - Search: the trigram index (SQLite FTS5; pg_trgm on PostgreSQL) finds rare matches; the exact
 *   test is still the substring LIKE over the normalized email and name, so results never depend
 *   on the index's own folding.
 * - Deep pages start from a remembered anchor (keyset) instead of a deep OFFSET.
 * Pending invitations are never listed.
 */
export function createDeveloperList (db: Knex) {
  const postgres = isPostgres(db)
  let memory: Memory = fresh(-1)

  function fresh (version: number): Memory {
    return { version, searches: new Map(), ids: 0, anchors: new Map(), groups: null }
  }

  function at (version: number): Memory {
    const size = memory.searches.size + memory.anchors.size
    if (memory.version !== version || size > MEMORY_LIMIT) memory = fresh(version)
    return memory
  }

  /** The version, and the accounts per listed state for everyone and for one group (0: none), in one query. */
  async function readCounts (groupId: number): Promise<{ version: number, everyone: Counts, group: Counts }> {
    const count = (group: string, state: string): string => `(select n from developer_counts where group_id = ${group} and state = '${state}')`
    const result = await db.raw(`select v.version, ${count('0', 'active')} as active, ${count('0', 'blocked')} as blocked,
        ${count('?', 'active')} as group_active, ${count('?', 'blocked')} as group_blocked
      from developer_list_version v where v.id = 1`, [groupId, groupId])
    const row = (postgres ? result.rows[0] : result[0]) as Record<'version' | 'active' | 'blocked' | 'group_active' | 'group_blocked', number | string | null>
    return {
      version: Number(row.version),
      everyone: { active: Number(row.active ?? 0), blocked: Number(row.blocked ?? 0) },
      group: { active: Number(row.group_active ?? 0), blocked: Number(row.group_blocked ?? 0) }
    }
  }

  async function list (query: DeveloperQuery): Promise<DeveloperListing> {
    const counts = await readCounts(query.groupId ?? 0)
    const { everyone } = counts
    // Group 0 is "everyone" in the counts table, never a group: as a filter it matches no one.
    const group = query.groupId === undefined ? null : query.groupId === 0 ? { active: 0, blocked: 0 } : counts.group
    const scope = group ?? everyone
    const remembered = at(counts.version)
    const groups = remembered.groups ?? (remembered.groups = await listGroupSummaries(db))

    const stateTotal = query.state === undefined ? scope.active + scope.blocked : scope[query.state]
    const search = query.q?.trim().toLowerCase() ?? ''
    const denseGroup = group !== null && group.active + group.blocked >= DENSE_GROUP_SHARE * (everyone.active + everyone.blocked)
    const filter: Filter = { state: query.state, groupId: query.groupId, denseGroup, search, useIndex: false }

    let total = stateTotal
    if (search !== '' && stateTotal > 0) {
      const key = JSON.stringify([search, query.state ?? '', query.groupId ?? ''])
      const matches = remembered.searches.get(key) ?? await findMatches(filter, key, remembered)
      total = matches.total
      filter.ids = matches.ids
      // A rare match is found through the substring index and sorted; a common one by walking the order.
      filter.useIndex = total < WALK_SHARE * stateTotal
    }
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE))
    const page = Math.min(Math.max(1, query.page ?? 1), pages)
    const sort = query.sort ?? '-registered'
    const rows = total === 0 ? [] : await readPage(filter, sort, page, remembered)
    return { rows, total, page, pages, pageSize: PAGE_SIZE, groups }
  }

  interface Filter {
    state: DeveloperQuery['state']
    groupId: number | undefined
    denseGroup: boolean
    search: string
    /** Start from the substring index (a rare match) rather than test rows in the sort order. */
    useIndex: boolean
    /** Every account the filter matches, when known: the rows are then read by id. */
    ids?: number[]
  }

  function filtered (filter: Filter): Knex.QueryBuilder {
    if (filter.ids !== undefined) return db('developers').whereIn('developers.id', filter.ids)
    // The literal "state <> 'pending'" is what the partial indexes say, so the planner may use them.
    const query = filter.state === undefined ? db('developers').whereRaw('developers.state <> \'pending\'') : db('developers').where('developers.state', filter.state)
    if (filter.groupId !== undefined) {
      const members = db('developer_groups').where('developer_groups.group_id', filter.groupId)
      // A large group: test each row met in the sort order; a small one: read its members, then sort.
      if (filter.denseGroup) void query.whereExists(members.clone().whereRaw('developer_groups.developer_id = developers.id').select(db.raw('1')))
      else void query.whereIn('developers.id', members.clone().select('developer_groups.developer_id'))
    }
    if (filter.search !== '') {
      const pattern = likePattern(filter.search)
      if (filter.useIndex && !postgres && [...filter.search].length >= 3) {
        // FTS5 trigram: a phrase of three or more characters is a substring match (quotes doubled).
        void query.whereRaw('developers.id in (select rowid from developer_search where developer_search match ?)', [`"${filter.search.replace(/"/g, '""')}"`])
      }
      // PostgreSQL's default LIKE escape is the backslash already; pg_trgm reads the pattern as it is.
      const like = postgres ? '?? like ?' : '?? like ? escape \'\\\''
      void query.where((w) => { void w.whereRaw(like, ['developers.email_normalized', pattern]).orWhereRaw(like, ['developers.name_normalized', pattern]) })
    }
    return query
  }

  /**
   * A search's matches, through the index whenever there is one: their ids when there are few (then
   * the total is their number), else only the total. Remembered under the list's version.
   */
  async function findMatches (filter: Filter, key: string, remembered: Memory): Promise<Matches> {
    const found: Array<number | string> = await filtered({ ...filter, useIndex: true }).limit(REMEMBERED_MATCHES + 1).pluck('developers.id')
    const few = found.length <= REMEMBERED_MATCHES && remembered.ids + found.length <= REMEMBERED_IDS
    const matches: Matches = found.length <= REMEMBERED_MATCHES ? { total: found.length, ids: few ? found.map(Number) : undefined } : { total: await countMatches(filter) }
    remembered.searches.set(key, matches)
    remembered.ids += matches.ids?.length ?? 0
    return matches
  }

  async function countMatches (filter: Filter): Promise<number> {
    const row = await filtered({ ...filter, useIndex: true }).count({ n: '*' }).first() as { n: number | string } | undefined
    return Number(row?.n ?? 0)
  }

  /** The filter's rows in the sort's order (id breaks ties), from an anchor on (or just past it) when given. */
  function inOrder (filter: Filter, sort: DeveloperSort, from?: Anchor, past = false): Knex.QueryBuilder {
    const [column, direction] = SORTS[sort]
    const query = filtered(filter).orderBy(`developers.${column}`, direction).orderBy('developers.id', direction)
    const compare = (direction === 'asc' ? '>' : '<') + (past ? '' : '=')
    return from === undefined ? query : query.whereRaw(`(??, developers.id) ${compare} (?, ?)`, [`developers.${column}`, from.value, from.id])
  }

  /**
   * Every account a query matches (all pages), in its order, a batch at a time: each batch starts
   * just past the last row of the one before (keyset), so nothing is held but the batch.
   */
  async function * walk (query: Omit<DeveloperQuery, 'page'>, batch = 1000): AsyncGenerator<Account[]> {
    const filter: Filter = { state: query.state, groupId: query.groupId, denseGroup: true, search: query.q?.trim().toLowerCase() ?? '', useIndex: false }
    const sort = query.sort ?? '-registered'
    const column = SORTS[sort][0]
    let after: Anchor | undefined
    for (;;) {
      const rows = await inOrder(filter, sort, after, true).limit(batch).select([...ACCOUNT_COLUMNS.map((c) => `developers.${c}`), `developers.${column} as sort_value`])
      if (rows.length > 0) yield rows.map(toAccount)
      if (rows.length < batch) return
      const last = rows[rows.length - 1]
      after = { value: last.sort_value, id: last.id }
    }
  }

  async function readPage (filter: Filter, sort: DeveloperSort, page: number, remembered: Memory): Promise<Account[]> {
    const skip = (page - 1) * PAGE_SIZE
    // Near the top, or a short list found through the index: a plain OFFSET is cheap.
    const anchor = skip <= ANCHOR_AFTER_ROWS || filter.useIndex || filter.ids !== undefined ? undefined : await anchorOf(filter, sort, page, remembered)
    const query = anchor === undefined ? inOrder(filter, sort).offset(skip) : inOrder(filter, sort, anchor)
    const rows = await query.limit(PAGE_SIZE).select(ACCOUNT_COLUMNS.map((c) => `developers.${c}`))
    return rows.map(toAccount)
  }

  /**
   * The first row of a deep page: remembered for this version, or counted from the nearest page
   * above it that is remembered (from the top at worst), reading only the index's columns.
   * Undefined if a change raced the total and the page is gone (the caller then uses OFFSET).
   */
  async function anchorOf (filter: Filter, sort: DeveloperSort, page: number, remembered: Memory): Promise<Anchor | undefined> {
    const key = JSON.stringify([filter.state ?? '', filter.groupId ?? '', filter.search, sort])
    const known = remembered.anchors.get(key) ?? new Map<number, Anchor>()
    remembered.anchors.set(key, known)
    const exact = known.get(page)
    if (exact !== undefined) return exact
    let from = 1
    for (const p of known.keys()) if (p < page && p > from) from = p
    const column = SORTS[sort][0]
    const anchor = await inOrder(filter, sort, known.get(from)).offset((page - from) * PAGE_SIZE).first({ value: `developers.${column}`, id: 'developers.id' }) as Anchor | undefined
    if (anchor !== undefined) known.set(page, anchor)
    return anchor
  }

  /** Accounts per state, for the publisher portal's home page. */
  async function countByState (): Promise<Record<AccountState, number>> {
    const counts: Record<AccountState, number> = { pending: 0, active: 0, blocked: 0 }
    const rows: Array<{ state: AccountState, n: number | string }> = await db('developer_counts').where('group_id', 0).select('state', 'n')
    for (const row of rows) counts[row.state] = Number(row.n)
    return counts
  }

  return { list, countByState, walk }
}

export type DeveloperList = ReturnType<typeof createDeveloperList>
