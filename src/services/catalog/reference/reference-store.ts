import type { Knex } from 'knex'
import { likePattern, pageOf, type Page } from '../../../db/paging'
import type { OperationView, ReferenceOverview, SchemaView } from './draw'
import { parseOperation, parseOverview, parseSchema, type StoredDocument } from './stored'

/** An operation in a list (a tag's page, search results). */
export interface OperationSummary { key: string, method: string, path: string, summary: string, operationId: string }

export const OPERATIONS_PER_PAGE = 50
export const SCHEMAS_PER_PAGE = 200

/** What the reference's pages read: one API's drawn reference, part by part. */
export interface ReferenceSource {
  overview: () => Promise<ReferenceOverview | null>
  tag: (tag: string, page: number | undefined) => Promise<Page<OperationSummary>>
  operation: (key: string) => Promise<OperationView | null>
  schema: (name: string) => Promise<SchemaView | null>
  schemas: (page: number | undefined) => Promise<Page<{ name: string }>>
  search: (q: string, page: number | undefined) => Promise<Page<OperationSummary>>
}

const SUMMARY_COLUMNS = ['api_operations.key', 'api_operations.method', 'api_operations.path', 'api_operations.summary', 'api_operations.operation_id']
interface SummaryRow { key: string, method: string, path: string, summary: string, operation_id: string }
const toSummary = (r: SummaryRow): OperationSummary => ({ key: r.key, method: r.method, path: r.path, summary: r.summary, operationId: r.operation_id })

// Rows a statement inserts: each a few kilobytes of drawn view, so a statement stays small.
const CHUNK = 100

/** Writes an API's drawn reference in its transaction (replacing what was there), and reads it. */
export function createReferenceStore (db: Knex) {
  async function replace (trx: Knex.Transaction, apiId: number, stored: StoredDocument | null): Promise<void> {
    await trx('api_operation_tags').where('api_id', apiId).del()
    await trx('api_operations').where('api_id', apiId).del()
    await trx('api_schemas').where('api_id', apiId).del()
    if (stored === null) return
    for (let i = 0; i < stored.operations.length; i += CHUNK) {
      await trx('api_operations').insert(stored.operations.slice(i, i + CHUNK).map((o) => ({
        api_id: apiId, position: o.position, key: o.key, method: o.method, path: o.path, summary: o.summary, operation_id: o.operationId, search_text: o.searchText, view: o.view
      })))
    }
    const ids = new Map<number, number>()
    for (const row of await trx('api_operations').where('api_id', apiId).select('id', 'position') as Array<{ id: number, position: number }>) ids.set(row.position, row.id)
    const tagRows = stored.operations.flatMap((o) => o.tags.map((tag) => ({ tag, operation: o })))
      .map(({ tag, operation }, i) => ({ api_id: apiId, tag, position: i + 1, operation_id: ids.get(operation.position) }))
    for (let i = 0; i < tagRows.length; i += CHUNK * 5) await trx('api_operation_tags').insert(tagRows.slice(i, i + CHUNK * 5))
    for (let i = 0; i < stored.schemas.length; i += CHUNK) {
      await trx('api_schemas').insert(stored.schemas.slice(i, i + CHUNK).map((s) => ({ api_id: apiId, name: s.name, position: s.position, view: s.view })))
    }
  }

  function source (apiId: number, q: Knex = db): ReferenceSource {
    return {
      async overview () {
        const row: { openapi_reference: string | null } | undefined = await q('apis').where('id', apiId).first('openapi_reference')
        return row?.openapi_reference == null ? null : parseOverview(row.openapi_reference)
      },
      async tag (tag, page) {
        const base = q('api_operation_tags').join('api_operations', 'api_operations.id', 'api_operation_tags.operation_id')
          .where('api_operation_tags.api_id', apiId).where('api_operation_tags.tag', tag)
        return await pageOf(base, page, OPERATIONS_PER_PAGE, async (query) => (await query.select(SUMMARY_COLUMNS).orderBy('api_operation_tags.position') as SummaryRow[]).map(toSummary))
      },
      async operation (key) {
        const row: { view: string } | undefined = await q('api_operations').where({ api_id: apiId, key }).first('view')
        return row === undefined ? null : parseOperation(row.view)
      },
      async schema (name) {
        const row: { view: string } | undefined = await q('api_schemas').where({ api_id: apiId, name }).first('view')
        return row === undefined ? null : parseSchema(row.view)
      },
      async schemas (page) {
        return await pageOf(q('api_schemas').where('api_id', apiId), page, SCHEMAS_PER_PAGE, async (query) => await query.select('name').orderBy('position') as Array<{ name: string }>)
      },
      async search (text, page) {
        const base = q('api_operations').where('api_id', apiId).whereRaw('search_text like ? escape ?', [likePattern(text.toLowerCase()), '\\'])
        return await pageOf(base, page, OPERATIONS_PER_PAGE, async (query) => (await query.select(SUMMARY_COLUMNS).orderBy('position') as SummaryRow[]).map(toSummary))
      }
    }
  }

  /** Which of these APIs have an operation whose path, summary, operationId, description or tag holds `text`. */
  async function apisWithOperationsMatching (apiIds: number[], text: string): Promise<Set<number>> {
    if (apiIds.length === 0) return new Set()
    const rows: Array<{ api_id: number }> = await db('api_operations').distinct('api_id').whereIn('api_id', apiIds)
      .whereRaw('search_text like ? escape ?', [likePattern(text.toLowerCase()), '\\'])
    return new Set(rows.map((r) => r.api_id))
  }

  async function gatewayDocument (apiId: number, kind: 'json' | 'yaml'): Promise<string | null> {
    const row: Record<string, string | null> | undefined = await db('apis').where('id', apiId).first(kind === 'json' ? 'gateway_document_json' : 'gateway_document_yaml')
    return row === undefined ? null : Object.values(row)[0]
  }

  return { replace, source, apisWithOperationsMatching, gatewayDocument }
}

export type ReferenceStore = ReturnType<typeof createReferenceStore>

/** A reference held in memory (Portico's own management API): the same questions, answered from arrays. */
export function memorySource (stored: StoredDocument): ReferenceSource {
  const paged = <T>(all: T[], requested: number | undefined, pageSize: number): Page<T> => {
    const pages = Math.max(1, Math.ceil(all.length / pageSize))
    const page = Math.min(Math.max(1, requested ?? 1), pages)
    return { rows: all.slice((page - 1) * pageSize, page * pageSize), total: all.length, page, pages, pageSize }
  }
  const summary = (o: StoredDocument['operations'][number]): OperationSummary => ({ key: o.key, method: o.method, path: o.path, summary: o.summary, operationId: o.operationId })
  return {
    overview: async () => parseOverview(stored.overview),
    tag: async (tag, page) => paged(stored.operations.filter((o) => o.tags.includes(tag)).map(summary), page, OPERATIONS_PER_PAGE),
    operation: async (key) => { const o = stored.operations.find((x) => x.key === key); return o === undefined ? null : parseOperation(o.view) },
    schema: async (name) => { const s = stored.schemas.find((x) => x.name === name); return s === undefined ? null : parseSchema(s.view) },
    schemas: async (page) => paged(stored.schemas.map((s) => ({ name: s.name })), page, SCHEMAS_PER_PAGE),
    search: async (text, page) => paged(stored.operations.filter((o) => o.searchText.includes(text.toLowerCase())).map(summary), page, OPERATIONS_PER_PAGE)
  }
}
