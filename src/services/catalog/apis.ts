import type { Knex } from 'knex'
import type { Actor, EventAction, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { Conflict, Invalid, NotFound, throwIfInvalid, type FieldErrors } from '../kernel/errors'
import { nameProblem } from '../kernel/text-rules'
import { isUniqueViolation } from '../../db/knex'
import { importOpenApi, type ImportedDocument, type OpenApiFormat } from './openapi-import'
import type { ReferenceStore } from './reference/reference-store'
import type { ReferenceOverview } from './reference/draw'
import { parseOverview } from './reference/stored'
import type { DocumentWorkers } from './reference/worker-pool'
import { KEY_HEADER, KEY_QUERY, namesFingerprint, type GatewayNames } from './reference/gateway-names'
import type { Sealer } from '../kernel/sealer'
import { checkApiPolicy, policyColumns, policyOf, type ApiPolicy, type ApiPolicyInput, type BackendSecrets, type PolicyColumns } from '../gateway/policies'

export const API_NAME_MAX = 200
export const API_PATH_MAX = 200
export const SERVICE_URL_MAX = 2000
export const DESCRIPTION_MAX = 5000
const API_PATH = /^[a-z0-9-]+(\/[a-z0-9-]+)*$/

export interface Api {
  id: number
  name: string
  path: string
  serviceUrl: string
  description: string
  hasDocument: boolean
  format: OpenApiFormat | null
  createdAt: string
  updatedAt: string
  /** What the gateway does on this API's calls (the backend credentials apart). */
  policy: ApiPolicy
  /** Whether backend credentials are set (their values are never shown). */
  hasBackendSecrets: boolean
}

export interface ApiInput {
  name: string
  path: string
  serviceUrl: string
  description: string
  /** A new OpenAPI document (text); blank keeps the current one. */
  openapi: string
  /** Remove the current document. */
  removeOpenapi?: boolean
}

interface ApiRow extends PolicyColumns {
  id: number
  name: string
  path: string
  service_url: string
  description: string
  openapi_format: OpenApiFormat | null
  created_at: string
  updated_at: string
  /** Sealed: read only to tell whether credentials are set. */
  backend_secrets: string | null
}

export const API_COLUMNS = ['apis.id', 'apis.name', 'apis.path', 'apis.service_url', 'apis.description', 'apis.openapi_format', 'apis.created_at', 'apis.updated_at',
  'apis.cors_origins', 'apis.cors_headers', 'apis.key_header', 'apis.key_query', 'apis.supplied_schemes', 'apis.timeout_seconds', 'apis.mock',
  'apis.backend_secrets']

export function toApi (row: ApiRow): Api {
  return {
    id: row.id, name: row.name, path: row.path, serviceUrl: row.service_url, description: row.description,
    hasDocument: row.openapi_format !== null, format: row.openapi_format, createdAt: row.created_at, updatedAt: row.updated_at,
    policy: policyOf(row), hasBackendSecrets: row.backend_secrets !== null
  }
}

const PATH_TAKEN = 'Another API already uses this path. Each API needs its own.'

function serviceUrlProblem (raw: string): string | null {
  const value = raw.trim()
  if (value === '') return 'Enter the backend\'s URL, such as https://api.example.com/v1.'
  if (value.length > SERVICE_URL_MAX) return `The URL can be at most ${SERVICE_URL_MAX} characters.`
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return 'Enter a full URL, such as https://api.example.com/v1.'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'The backend\'s URL must start with http:// or https://.'
  if (url.hash !== '' || value.includes('#')) return 'The backend\'s URL cannot have a #fragment.'
  return null
}

/** The rules of an API's fields: one home for the pages and the JSON API. */
export function apiErrors (input: ApiInput): FieldErrors {
  const errors: FieldErrors = {}
  const name = nameProblem('API name', input.name, API_NAME_MAX)
  if (name !== null) errors.name = name
  const path = input.path.trim()
  if (path === '') errors.path = 'Enter the API\'s path on the gateway, such as weather or maps/v2.'
  else if (path.length > API_PATH_MAX) errors.path = `The path can be at most ${API_PATH_MAX} characters.`
  else if (!API_PATH.test(path)) errors.path = 'Use lower-case letters, digits and hyphens, with / between parts, such as weather or maps/v2 (no / at either end).'
  const url = serviceUrlProblem(input.serviceUrl)
  if (url !== null) errors.serviceUrl = url
  if ([...input.description].length > DESCRIPTION_MAX) errors.description = `The description can be at most ${DESCRIPTION_MAX} characters.`
  return errors
}

export interface ApisDeps {
  db: Knex
  clock: Clock
  events: Events
  workers: DocumentWorkers
  references: ReferenceStore
  openapiMaxBytes: number
  /** Seals backend credentials (KEY_SECRET). */
  secrets: Sealer
}

export function createApis ({ db, clock, events, workers, references, openapiMaxBytes, secrets }: ApisDeps) {
  const audit = (trx: Knex.Transaction, actor: Actor, action: EventAction, api: { id: number, name: string }, details?: Record<string, unknown>) =>
    events.record(trx, { actor, action, target: { type: 'api', id: api.id, label: api.name }, details })

  async function findApi (id: number, q: Knex | Knex.Transaction = db): Promise<Api> {
    const row: ApiRow | undefined = await q('apis').where('id', id).first(API_COLUMNS)
    if (row === undefined) throw new NotFound('There is no API with this id.', 'api')
    return toApi(row)
  }

  async function listApis (): Promise<Api[]> {
    const rows: ApiRow[] = await db('apis').select(API_COLUMNS).orderBy('name_normalized').orderBy('id')
    return rows.map(toApi)
  }

  /** The document as imported, for download. */
  async function findDocument (id: number): Promise<{ api: Api, text: string, format: OpenApiFormat }> {
    const api = await findApi(id)
    const document = api.format === null ? null : await references.importedDocument(id)
    if (document === null || api.format === null) throw new NotFound('This API has no OpenAPI document.')
    return { api, text: document.text, format: api.format }
  }

  /** Checks the fields, then reads the document (the slow part) only when they are right. */
  async function checked (input: ApiInput): Promise<ImportedDocument | null> {
    const errors = apiErrors(input)
    let imported: ImportedDocument | null = null
    if (input.openapi.trim() !== '') {
      try {
        imported = await importOpenApi(workers, input.openapi, openapiMaxBytes)
      } catch (err) {
        if (!(err instanceof Invalid)) throw err
        Object.assign(errors, err.fields)
      }
    }
    throwIfInvalid(errors)
    return imported
  }

  /** A document read and staged: its rows written as a revision no API shows yet. */
  interface Staged { imported: ImportedDocument, revision: number }

  /** Checks the fields and reads the document, then writes its reference as a new revision (short transactions). */
  async function staged (input: ApiInput): Promise<Staged | null> {
    const imported = await checked(input)
    return imported === null ? null : { imported, revision: await references.stage(imported.text, imported.stored, isoNow(clock)) }
  }

  function documentColumns (staged: Staged | null, remove: boolean): Record<string, string | number | null> {
    if (staged !== null) {
      const { imported, revision } = staged
      return { openapi_format: imported.stored.format, openapi_reference: imported.stored.overview, reference_revision: revision }
    }
    return remove ? { openapi_format: null, openapi_reference: null, reference_revision: null } : {}
  }

  /** After the save: the revision it replaced goes; if the save failed, the one it staged does. */
  async function settle<T> (staging: Staged | null, save: () => Promise<{ result: T, replaced: number | null }>): Promise<T> {
    let outcome: { result: T, replaced: number | null }
    try {
      outcome = await save()
    } catch (err) {
      await references.discard(staging?.revision ?? null)
      throw err
    }
    await references.discard(outcome.replaced)
    return outcome.result
  }

  const takenPath = (err: unknown): unknown => isUniqueViolation(err) ? new Conflict('path', PATH_TAKEN) : err

  async function createApi (input: ApiInput, actor: Actor): Promise<Api> {
    const staging = await staged(input)
    return await settle(staging, async () => await db.transaction(async (trx) => {
      if (await trx('apis').where('path', input.path.trim()).first('id') !== undefined) throw new Conflict('path', PATH_TAKEN)
      const now = isoNow(clock)
      const [row] = await trx('apis').insert({
        name: input.name.trim(), name_normalized: input.name.trim().toLowerCase(), path: input.path.trim(), service_url: input.serviceUrl.trim(),
        description: input.description.trim(), created_at: now, updated_at: now, ...documentColumns(staging, false)
      }).returning(API_COLUMNS.map((c) => c.slice('apis.'.length))).catch((err: unknown) => { throw takenPath(err) })
      const api = toApi(row as ApiRow)
      await audit(trx, actor, 'api.created', api, { path: api.path, document: staging === null ? null : staging.imported.stored.format })
      return { result: api, replaced: null }
    }))
  }

  async function updateApi (id: number, input: ApiInput, actor: Actor): Promise<Api> {
    const staging = await staged(input)
    return await settle(staging, async () => await db.transaction(async (trx) => {
      const before = await findApi(id, trx)
      const { reference_revision: replaced } = await trx('apis').where('id', id).first('reference_revision') as { reference_revision: number | null }
      if (await trx('apis').where('path', input.path.trim()).whereNot('id', id).first('id') !== undefined) throw new Conflict('path', PATH_TAKEN)
      const remove = input.removeOpenapi === true
      await trx('apis').where('id', id).update({
        name: input.name.trim(), name_normalized: input.name.trim().toLowerCase(), path: input.path.trim(), service_url: input.serviceUrl.trim(),
        description: input.description.trim(), updated_at: isoNow(clock), ...documentColumns(staging, remove)
      }).catch((err: unknown) => { throw takenPath(err) })
      const api = await findApi(id, trx)
      const document = staging !== null ? 'replaced' : remove && before.hasDocument ? 'removed' : 'kept'
      await audit(trx, actor, 'api.edited', api, { from: before.name === api.name ? undefined : before.name, path: api.path, document })
      return { result: api, replaced: staging !== null || remove ? replaced : null }
    }))
  }

  /** Delete an API: it leaves every product it was in. */
  async function deleteApi (id: number, actor: Actor): Promise<Api> {
    return await settle(null, async () => await db.transaction(async (trx) => {
      const api = await findApi(id, trx)
      const { reference_revision: replaced } = await trx('apis').where('id', id).first('reference_revision') as { reference_revision: number | null }
      const products = await trx('product_apis').where('api_id', id).count({ n: '*' }).first()
      await trx('apis').where('id', id).del()
      await audit(trx, actor, 'api.deleted', api, { path: api.path, products: Number(products?.n ?? 0) })
      return { result: api, replaced }
    }))
  }

  /** The backend credentials of an API, opened (the gateway's use only: never shown, logged or counted). */
  function openSecrets (sealed: string | null): BackendSecrets {
    const plain = sealed === null ? null : secrets.open(sealed)
    return plain === null ? { headers: [], query: [] } : JSON.parse(plain) as BackendSecrets
  }

  /** The names of the backend credentials set (what the page shows: names and "set", never a value). */
  async function backendSecretNames (id: number): Promise<{ headers: string[], query: string[] }> {
    const row = await db('apis').where('id', id).first('backend_secrets') as { backend_secrets: string | null } | undefined
    if (row === undefined) throw new NotFound('There is no API with this id.', 'api')
    const open = openSecrets(row.backend_secrets)
    return { headers: open.headers.map(([name]) => name), query: open.query.map(([name]) => name) }
  }

  /**
   * Saves an API's gateway policy: the gateway applies it from its very next call here and within
   * a second elsewhere (an event the gateway hears). Credentials are sealed; blank keeps them.
   * The event names what changed, never a credential's value.
   */
  async function setPolicy (id: number, input: ApiPolicyInput, actor: Actor): Promise<Api> {
    const { policy, secrets: given } = checkApiPolicy(input)
    return await db.transaction(async (trx) => {
      const api = await findApi(id, trx)
      if (policy.mock && !api.hasDocument) throw new Invalid({ mock: 'This API has no OpenAPI document to answer from: add one first.' })
      const columns: Record<string, unknown> = { ...policyColumns(policy), updated_at: isoNow(clock) }
      if (given !== null) columns.backend_secrets = given.headers.length === 0 && given.query.length === 0 ? null : secrets.seal(JSON.stringify(given))
      await trx('apis').where('id', id).update(columns)
      const changed = await findApi(id, trx)
      const credentials = given === null ? 'kept' : given.headers.length + given.query.length === 0 ? (api.hasBackendSecrets ? 'removed' : 'none') : 'set'
      await audit(trx, actor, 'api.policy-changed', changed, {
        cors: policy.corsOrigins === '*' ? '*' : policy.corsOrigins.length,
        keyHeader: policy.keyHeader, keyQuery: policy.keyQuery, timeoutSeconds: policy.timeoutSeconds, mock: policy.mock,
        suppliedSchemes: policy.suppliedSchemes,
        backendCredentials: credentials === 'set' ? { state: 'set', headers: given?.headers.map(([name]) => name), query: given?.query.map(([name]) => name) } : credentials
      })
      return changed
    })
  }

  /**
   * The catalog: each API with what its reference says of it (title, version, first paragraph,
   * operations, tags); with `q`, only those whose name, description, tags or an operation's path,
   * summary, operationId or description holds it (any case).
   */
  async function catalog (list: Api[], q: string): Promise<Array<{ api: Api, overview: ReferenceOverview | null }>> {
    const rows: Array<{ id: number, openapi_reference: string | null }> = list.length === 0 ? [] : await db('apis').whereIn('id', list.map((a) => a.id)).select('id', 'openapi_reference')
    const overviews = new Map(rows.map((r) => [r.id, r.openapi_reference === null ? null : parseOverview(r.openapi_reference)]))
    const entries = list.map((api) => ({ api, overview: overviews.get(api.id) ?? null }))
    const needle = q.trim().toLowerCase()
    if (needle === '') return entries
    const byOperation = await references.apisWithOperationsMatching(list.map((a) => a.id), needle)
    return entries.filter(({ api, overview }) => byOperation.has(api.id) ||
      [api.name, api.description, overview?.title ?? '', overview?.summary ?? '', ...(overview?.tags.map((t) => t.name) ?? [])].some((text) => text.toLowerCase().includes(needle)))
  }

  /**
   * Draws again the references that have none though their API has a document (drawn by an older
   * version): one at a time, in the worker thread, at start-up.
   */
  async function redrawMissing (): Promise<number> {
    // Revisions left by a save that stopped half-way (a crash) go first.
    await references.discardAbandoned(new Date(clock.now().getTime() - 60 * 60 * 1000).toISOString())
    const rows: Array<{ id: number, updated_at: string }> = await db('apis').whereNotNull('openapi_format').whereNull('openapi_reference').select('id', 'updated_at')
    let drawn = 0
    for (const { id, updated_at: version } of rows) {
      const document = await references.importedDocument(id)
      if (document === null) continue
      let staging: Staged
      try {
        const imported = await importOpenApi(workers, document.text, Number.MAX_SAFE_INTEGER)
        staging = { imported, revision: await references.stage(imported.text, imported.stored, isoNow(clock)) }
      } catch {
        continue // a document this version refuses keeps its text; the page says it has no reference
      }
      // Only if nobody saved the API meanwhile.
      const changed = await db('apis').where({ id, updated_at: version, reference_revision: document.revision }).whereNull('openapi_reference').update(documentColumns(staging, false))
      if (changed === 1) drawn++
      await references.discard(changed === 1 ? document.revision : staging.revision)
    }
    return drawn
  }

  /**
   * The document for calling the API through the gateway, as stored (its server a placeholder),
   * with the API's key names and without the schemes the gateway supplies: remade in the worker
   * when the policy changed since it was made, and its YAML form written out there when first
   * asked for; both kept.
   */
  async function gatewayDocument (id: number, kind: 'json' | 'yaml'): Promise<string | null> {
    const { policy } = await findApi(id)
    const names: GatewayNames = { keyHeader: policy.keyHeader ?? KEY_HEADER, keyQuery: policy.keyQuery ?? KEY_QUERY, supplied: policy.suppliedSchemes }
    const wanted = namesFingerprint(names)
    const stored = await references.gatewayDocument(id, kind, wanted)
    if (stored === null || stored.text !== null) return stored?.text ?? null
    // The JSON this form is written from: the default one, or the one remade from it with these names.
    let json = await references.gatewayDocument(id, 'json', wanted)
    if (wanted !== null && json !== null && json.text === null && json.revision === stored.revision) {
      const defaults = await references.gatewayDocument(id, 'json')
      if (defaults?.text == null || defaults.revision !== stored.revision) return null
      const source = defaults.text
      const remade = await once(`json ${defaults.revision} ${wanted}`, async () => {
        // Written out meanwhile by a download that read before this one.
        const kept = await references.gatewayDocument(id, 'json', wanted)
        if (kept?.text != null && kept.revision === defaults.revision) return kept.text
        const text = await workers.gateway(source, names)
        await references.keepNamedJson(defaults.revision, text, wanted)
        return text
      })
      json = { revision: defaults.revision, text: remade }
    }
    if (json?.text == null || json.revision !== stored.revision) return null
    if (kind === 'json') return json.text
    const from = json
    return await once(`yaml ${from.revision} ${wanted ?? ''}`, async () => {
      const kept = await references.gatewayDocument(id, 'yaml', wanted)
      if (kept?.text != null && kept.revision === from.revision) return kept.text
      const yaml = await workers.yaml(from.text ?? '')
      await references.keepGatewayYaml(from.revision, yaml, wanted)
      return yaml
    })
  }

  // Downloads asking for the same document while it is being written out wait for that one job
  // (a burst of downloads after a policy change is one job in the worker, not one each).
  const inFlight = new Map<string, Promise<string>>()
  async function once (key: string, job: () => Promise<string>): Promise<string> {
    const running = inFlight.get(key)
    if (running !== undefined) return await running
    const started = job().finally(() => { inFlight.delete(key) })
    inFlight.set(key, started)
    return await started
  }

  return { findApi, listApis, findDocument, gatewayDocument, catalog, createApi, updateApi, deleteApi, setPolicy, backendSecretNames, openSecrets, redrawMissing, references }
}

export type Apis = ReturnType<typeof createApis>
