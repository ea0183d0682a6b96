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

// Rows a statement (and a transaction) writes: each a few kilobytes of drawn view, so the one
// writer is held for a few milliseconds at a time, never for a whole document.
const CHUNK = 100

/**
 * Writes drawn references as revisions and reads the current one of an API. `stage` writes a new
 * revision in short transactions of its own; the API's save then points at it (`reference_revision`)
 * in its own transaction, and `discard` removes the revision it replaced.
 */
export function createReferenceStore (db: Knex, readDb: Knex = db) {
  async function stage (text: string, stored: StoredDocument, now: string): Promise<number> {
    const [row] = await db('api_revisions').insert({ created_at: now, document: text, gateway_json: stored.gatewayJson }).returning('id')
    const revision = Number(typeof row === 'object' ? (row as { id: number }).id : row)
    for (let i = 0; i < stored.operations.length; i += CHUNK) {
      await db('api_operations').insert(stored.operations.slice(i, i + CHUNK).map((o) => ({
        revision, position: o.position, key: o.key, method: o.method, path: o.path, summary: o.summary, operation_id: o.operationId, search_text: o.searchText, view: o.view
      })))
    }
    const ids = new Map<number, number>()
    for (const r of await db('api_operations').where('revision', revision).select('id', 'position') as Array<{ id: number, position: number }>) ids.set(r.position, r.id)
    const tagRows = stored.operations.flatMap((o) => o.tags.map((tag) => ({ tag, operation: o })))
      .map(({ tag, operation }, i) => ({ revision, tag, position: i + 1, operation_id: ids.get(operation.position) }))
    for (let i = 0; i < tagRows.length; i += CHUNK * 5) await db('api_operation_tags').insert(tagRows.slice(i, i + CHUNK * 5))
    for (let i = 0; i < stored.schemas.length; i += CHUNK) {
      await db('api_schemas').insert(stored.schemas.slice(i, i + CHUNK).map((s) => ({ revision, name: s.name, position: s.position, view: s.view })))
    }
    return revision
  }

  /** Removes a revision no API shows (replaced, or staged for a save that failed), in short transactions. */
  async function discard (revision: number | null): Promise<void> {
    if (revision === null) return
    if (await db('apis').where('reference_revision', revision).first('id') !== undefined) return
    await db('api_operation_tags').where('revision', revision).del()
    for (;;) {
      const ids = await db('api_operations').where('revision', revision).limit(CHUNK * 5).pluck('id') as number[]
      if (ids.length === 0) break
      await db('api_operations').whereIn('id', ids).del()
    }
    await db('api_schemas').where('revision', revision).del()
    await db('api_revisions').where('id', revision).del()
  }

  /** Revisions no API points at and older than `before` (a save that stopped half-way): removed. */
  async function discardAbandoned (before: string): Promise<void> {
    const rows = await db('api_revisions').where('created_at', '<', before).whereNotIn('id', db('apis').whereNotNull('reference_revision').select('reference_revision')).pluck('id') as number[]
    for (const id of rows) await discard(id)
  }

  const current = (q: Knex, apiId: number): Knex.QueryBuilder => q('apis').where('id', apiId).select('reference_revision')

  function source (apiId: number, q: Knex = readDb): ReferenceSource {
    return {
      async overview () {
        const row: { openapi_reference: string | null } | undefined = await q('apis').where('id', apiId).first('openapi_reference')
        return row?.openapi_reference == null ? null : parseOverview(row.openapi_reference)
      },
      async tag (tag, page) {
        const base = q('api_operation_tags').join('api_operations', 'api_operations.id', 'api_operation_tags.operation_id')
          .where('api_operation_tags.revision', current(q, apiId)).where('api_operation_tags.tag', tag)
        return await pageOf(base, page, OPERATIONS_PER_PAGE, async (query) => (await query.select(SUMMARY_COLUMNS).orderBy('api_operation_tags.position') as SummaryRow[]).map(toSummary))
      },
      async operation (key) {
        const row: { view: string } | undefined = await q('api_operations').where('revision', current(q, apiId)).where('key', key).first('view')
        return row === undefined ? null : parseOperation(row.view)
      },
      async schema (name) {
        const row: { view: string } | undefined = await q('api_schemas').where('revision', current(q, apiId)).where('name', name).first('view')
        return row === undefined ? null : parseSchema(row.view)
      },
      async schemas (page) {
        return await pageOf(q('api_schemas').where('revision', current(q, apiId)), page, SCHEMAS_PER_PAGE, async (query) => await query.select('name').orderBy('position') as Array<{ name: string }>)
      },
      async search (text, page) {
        const base = q('api_operations').where('revision', current(q, apiId)).whereRaw('search_text like ? escape ?', [likePattern(text.toLowerCase()), '\\'])
        return await pageOf(base, page, OPERATIONS_PER_PAGE, async (query) => (await query.select(SUMMARY_COLUMNS).orderBy('position') as SummaryRow[]).map(toSummary))
      }
    }
  }

  /** Which of these APIs have an operation whose path, summary, operationId, description or tag holds `text`. */
  async function apisWithOperationsMatching (apiIds: number[], text: string): Promise<Set<number>> {
    if (apiIds.length === 0) return new Set()
    const rows: Array<{ id: number }> = await readDb('apis').whereIn('apis.id', apiIds).join('api_operations', 'api_operations.revision', 'apis.reference_revision')
      .whereRaw('api_operations.search_text like ? escape ?', [likePattern(text.toLowerCase()), '\\']).distinct('apis.id')
    return new Set(rows.map((r) => r.id))
  }

  /**
   * The API's current revision and its gateway document in this form (null: none, or not written
   * out yet): made with the default names (`names` null), or remade with these (a fingerprint).
   */
  async function gatewayDocument (apiId: number, kind: 'json' | 'yaml', names: string | null = null): Promise<{ revision: number, text: string | null } | null> {
    const column = `${names === null ? 'gateway' : 'named'}_${kind}`
    const row: Record<string, string | number | null> | undefined = await readDb('api_revisions').where('id', current(readDb, apiId)).first('id', column, 'gateway_names')
    if (row === undefined) return null
    const text = names === null || row.gateway_names === names ? row[column] as string | null : null
    return { revision: Number(row.id), text }
  }

  /** Keeps a revision's gateway document remade with other names; its YAML form is written out again when asked for. */
  async function keepNamedJson (revision: number, json: string, names: string): Promise<void> {
    await db('api_revisions').where('id', revision).update({ named_json: json, named_yaml: null, gateway_names: names })
  }

  /** The API's current document as imported, and its revision. */
  async function importedDocument (apiId: number): Promise<{ revision: number, text: string } | null> {
    const row: { id: number, document: string } | undefined = await db('api_revisions').where('id', current(db, apiId)).first('id', 'document')
    return row === undefined ? null : { revision: row.id, text: row.document }
  }

  /** Keeps the YAML form of a revision's gateway document (default or remade with `names`, unless remade again meanwhile), once written out. */
  async function keepGatewayYaml (revision: number, yaml: string, names: string | null = null): Promise<void> {
    if (names === null) await db('api_revisions').where('id', revision).update({ gateway_yaml: yaml })
    else await db('api_revisions').where({ id: revision, gateway_names: names }).update({ named_yaml: yaml })
  }

  return { stage, discard, discardAbandoned, source, apisWithOperationsMatching, importedDocument, gatewayDocument, keepNamedJson, keepGatewayYaml }
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
