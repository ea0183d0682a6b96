import type { Knex } from 'knex'

export interface Page<T> {
  rows: T[]
  total: number
  page: number
  pages: number
  pageSize: number
}

/**
 * Counts `base`, clamps the page asked for into range, and lets `fetch` read that page's rows
 * (it adds the columns and order; limit and offset come from here). Paging happens in SQL.
 */
export async function pageOf<T> (base: Knex.QueryBuilder, requested: number | undefined, pageSize: number, fetch: (query: Knex.QueryBuilder) => Promise<T[]>): Promise<Page<T>> {
  const counted = await base.clone().clearSelect().clearOrder().count({ n: '*' }).first()
  const total = Number(counted?.n ?? 0)
  const pages = Math.max(1, Math.ceil(total / pageSize))
  const page = Math.min(Math.max(1, requested ?? 1), pages)
  const rows = await fetch(base.clone().limit(pageSize).offset((page - 1) * pageSize))
  return { rows, total, page, pages, pageSize }
}

/** A LIKE pattern for "contains": `%` and `_` typed by the user are literal characters, not wildcards. Use with `escape '\\'`. */
export function likePattern (text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}
