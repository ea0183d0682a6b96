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

/** Where a page starts: its first row's sort value and id. */
interface Anchor { value: string, id: number }

/** What this instance knows about the list at one version (see the migration that made it). */
interface Memory {
  version: number
  /** A search's total, by search, state and group. */
  totals: Map<string, number>
  /** Where deep pages start, by filter and sort, then page. */
  anchors: Map<string, Map<number, Anchor>>
  /** The ids a rare search matches (a few hundred at most), by search, state and group. */
  matches: Map<string, number[]>
  matchedIds: number
  groups: GroupSummary[] | null
}

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
    return { version, totals: new Map(), anchors: new Map(), matches: new Map(), matchedIds: 0, groups: null }
  }

  function at (version: number): Memory {
    const size = memory.totals.size + memory.anchors.size + memory.matches.size
    if (memory.version !== version || size > MEMORY_LIMIT) memory = fresh(version)
    return memory
  }

  /** The version, and the accounts per listed state for everyone or for one group, in one query. */
  async function readCounts (groupId: number): Promise<{ version: number, active: number, blocked: number }> {
    const row = await db.raw(`select v.version,
        (select n from developer_counts where group_id = ? and state = 'active') as active,
        (select n from developer_counts where group_id = ? and state = 'blocked') as blocked
      from developer_list_version v where v.id = 1`, [groupId, groupId])
    const first = (postgres ? row.rows[0] : row[0]) as { version: number | string, active: number | string | null, blocked: number | string | null }
    return { version: Number(first.version), active: Number(first.active ?? 0), blocked: Number(first.blocked ?? 0) }
  }

  async function list (query: DeveloperQuery): Promise<DeveloperListing> {
    const everyone = await readCounts(0)
    const group = query.groupId === undefined ? null : (query.groupId === 0 ? { active: 0, blocked: 0 } : await readCounts(query.groupId))
    const scope = group ?? everyone
    const remembered = at(everyone.version)
    const groups = remembered.groups ?? (remembered.groups = await listGroupSummaries(db))

    const stateTotal = query.state === undefined ? scope.active + scope.blocked : scope[query.state]
    const search = query.q?.trim().toLowerCase() ?? ''
    const denseGroup = group !== null && group.active + group.blocked >= DENSE_GROUP_SHARE * (everyone.active + everyone.blocked)
    const filter: Filter = { state: query.state, groupId: query.groupId, denseGroup, search, useIndex: false }

    let total = stateTotal
    if (search !== '' && stateTotal > 0) {
      const key = JSON.stringify([search, query.state ?? '', query.groupId ?? ''])
      const known = remembered.totals.get(key)
      total = known ?? await countMatches(filter)
      if (known === undefined) remembered.totals.set(key, total)
      // A rare match is found through the substring index and sorted; a common one by walking the order.
      filter.useIndex = total < WALK_SHARE * stateTotal
      if (total > 0 && total <= REMEMBERED_MATCHES) {
        const ids = remembered.matches.get(key) ?? await matchingIds(filter)
        if (!remembered.matches.has(key) && remembered.matchedIds + ids.length <= REMEMBERED_IDS) {
          remembered.matches.set(key, ids)
          remembered.matchedIds += ids.length
        }
        filter.ids = ids
      }
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

  async function matchingIds (filter: Filter): Promise<number[]> {
    const ids: Array<number | string> = await filtered({ ...filter, useIndex: true }).pluck('developers.id')
    return ids.map(Number)
  }

  async function countMatches (filter: Filter): Promise<number> {
    // Counting reads every match anyway: through the index whenever there is one for this search.
    const row = await filtered({ ...filter, useIndex: true }).count({ n: '*' }).first() as { n: number | string } | undefined
    return Number(row?.n ?? 0)
  }

  async function readPage (filter: Filter, sort: DeveloperSort, page: number, remembered: Memory): Promise<Account[]> {
    const [column, direction] = SORTS[sort]
    const ordered = (query: Knex.QueryBuilder): Knex.QueryBuilder => query.orderBy(`developers.${column}`, direction).orderBy('developers.id', direction)
    const skip = (page - 1) * PAGE_SIZE
    let query = ordered(filtered(filter))
    if (skip <= ANCHOR_AFTER_ROWS || filter.useIndex || filter.ids !== undefined) {
      // Near the top, or a short list found through the index: a plain OFFSET is cheap.
      query = query.offset(skip)
    } else {
      const anchor = await anchorOf(filter, sort, page, remembered)
      query = query.whereRaw(`(??, developers.id) ${direction === 'asc' ? '>=' : '<='} (?, ?)`, [`developers.${column}`, anchor.value, anchor.id])
    }
    const rows = await query.limit(PAGE_SIZE).select(ACCOUNT_COLUMNS.map((c) => `developers.${c}`))
    return rows.map(toAccount)
  }

  /**
   * The first row of a deep page: remembered for this version, or counted from the nearest page
   * above it that is remembered (from the top at worst), reading only the index's columns.
   */
  async function anchorOf (filter: Filter, sort: DeveloperSort, page: number, remembered: Memory): Promise<Anchor> {
    const key = JSON.stringify([filter.state ?? '', filter.groupId ?? '', filter.search, sort])
    const known = remembered.anchors.get(key) ?? new Map<number, Anchor>()
    remembered.anchors.set(key, known)
    const exact = known.get(page)
    if (exact !== undefined) return exact
    const [column, direction] = SORTS[sort]
    let from = 1
    for (const p of known.keys()) if (p < page && p > from) from = p
    let query = filtered(filter).orderBy(`developers.${column}`, direction).orderBy('developers.id', direction)
    const start = known.get(from)
    if (start !== undefined) query = query.whereRaw(`(??, developers.id) ${direction === 'asc' ? '>=' : '<='} (?, ?)`, [`developers.${column}`, start.value, start.id])
    const row = await query.offset((page - from) * PAGE_SIZE).first({ value: `developers.${column}`, id: 'developers.id' }) as Anchor | undefined
    // The total said this page exists; if a change raced the count, start from the top of the list.
    const anchor = row ?? { value: direction === 'asc' ? '' : '\uffff', id: direction === 'asc' ? 0 : Number.MAX_SAFE_INTEGER }
    if (row !== undefined) known.set(page, anchor)
    return anchor
  }

  /** Accounts per state, for the publisher portal's home page. */
  async function countByState (): Promise<Record<AccountState, number>> {
    const counts: Record<AccountState, number> = { pending: 0, active: 0, blocked: 0 }
    const rows: Array<{ state: AccountState, n: number | string }> = await db('developer_counts').where('group_id', 0).select('state', 'n')
    for (const row of rows) counts[row.state] = Number(row.n)
    return counts
  }

  return { list, countByState }
}

export type DeveloperList = ReturnType<typeof createDeveloperList>
