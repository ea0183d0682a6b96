import type { Knex } from 'knex'
import { ACCOUNT_COLUMNS, toAccount, type Account, type AccountState } from './account-store'
import { likePattern, pageOf, type Page } from '../../db/paging'

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

/**
 * The Developers page: filtering, sorting and paging in SQL (indexed columns; pending invitations
 * are not listed), never in memory, so it stays fast at 100,000 accounts.
 */
export async function listDevelopers (db: Knex, query: DeveloperQuery): Promise<Page<Account>> {
  // "Not pending" rather than "in (active, blocked)": the planner then walks the sort column's index.
  const base = query.state !== undefined ? db('developers').where('state', query.state) : db('developers').whereNot('state', 'pending')
  const q = query.q?.trim().toLowerCase() ?? ''
  if (q !== '') {
    const pattern = likePattern(q)
    void base.where((w) => {
      void w.whereRaw('email_normalized like ? escape ?', [pattern, '\\'])
        .orWhereRaw('name_normalized like ? escape ?', [pattern, '\\'])
    })
  }
  if (query.groupId !== undefined) {
    void base.join('developer_groups', 'developer_groups.developer_id', 'developers.id').where('developer_groups.group_id', query.groupId)
  }
  const [column, direction] = SORTS[query.sort ?? '-registered']
  return await pageOf(base, query.page, PAGE_SIZE, async (page) => {
    const rows = await page
      .select(ACCOUNT_COLUMNS.map((c) => `developers.${c}`))
      .orderBy(`developers.${column}`, direction)
      .orderBy('developers.id', direction)
    return rows.map(toAccount)
  })
}

/** Accounts per state, for the publisher portal's home page. */
export async function countDevelopersByState (db: Knex): Promise<Record<AccountState, number>> {
  const counts: Record<AccountState, number> = { pending: 0, active: 0, blocked: 0 }
  const rows: Array<{ state: AccountState, n: number | string }> = await db('developers').select('state').count({ n: '*' }).groupBy('state')
  for (const row of rows) counts[row.state] = Number(row.n)
  return counts
}
