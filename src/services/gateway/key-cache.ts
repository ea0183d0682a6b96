import type { Knex } from 'knex'
import type { QuotaPeriod } from '../catalog/products'
import type { GatewayChanges } from './changes'
import { compileOperations, mockAnswerOf, type OperationEntry, type OperationRouter } from './operations'
import { createSlicer } from '../kernel/slices'
import { DEFAULT_KEY_HEADER, DEFAULT_KEY_QUERY, ipAllowMatcher, policyOf, type BackendSecrets, type PolicyColumns } from './policies'

/** An API's policy as the gateway applies it, ready for each call. */
export interface GatewayPolicy {
  /** Lower case. */
  keyHeader: string
  keyQuery: string
  /** null: no CORS (an OPTIONS call is a call like any other). */
  cors: { origins: ReadonlySet<string> | '*', allowHeaders: string } | null
  /** null: the gateway's default. */
  timeoutMs: number | null
  /** Added to every forwarded request. */
  backendHeaders: ReadonlyArray<[string, string]>
  /** Added to every forwarded query, encoded ("a=b&c=d"), or "". */
  backendQuery: string
  mock: boolean
}

/** An API as the gateway routes it. */
export interface GatewayApi {
  id: number
  path: string
  serviceUrl: string
  /** The backend's origin (scheme, host, port): what its connections are counted under. */
  origin: string
  /** A published product that needs no subscription holds this API: calls without a key pass (counted under it). */
  openProductId: number | null
  policy: GatewayPolicy
  /** The document's operations, compiled (null: no document). */
  operations: OperationRouter | null
}

/** What a key opens, as of the last look-up. */
export interface GatewayKey {
  subscriptionId: number
  developerId: number
  productId: number
  /** Subscription active, owner active, product published. */
  usable: boolean
  expiresAt: number | null
  apiIds: ReadonlySet<number>
  rateLimit: { calls: number, periodMs: number } | null
  quota: { calls: number, period: QuotaPeriod } | null
  /** The product's allowed client addresses: null for any. */
  ipAllowed: ((ip: string) => boolean) | null
}

/** An API found for a path, and the rest of the path after the API's own. */
export interface FoundApi { api: GatewayApi, rest: string[] }

interface Catalog {
  apis: Map<string, GatewayApi>
  /** How many path segments the longest API path has: the most prefixes a look-up tries. */
  deepest: number
  productApis: Map<number, Set<number>>
}

interface KeyRow {
  subscription_id: number
  state: string
  expires_at: string | null
  developer_id: number | null
  product_id: number
  owner_state: string | null
  organisation_id: number | null
  organisation_state: string | null
  product_state: string
  rate_limit_calls: number | null
  rate_limit_period: number | null
  quota_calls: number | null
  quota_period: QuotaPeriod | null
  ip_allow: string
}

// Unknown keys are remembered too (a flood of one bad key must not reach the database), up to this
// many. Keys are remembered by digest: a key's text is never kept, and every entry has one size.
const MAX_CACHED_KEYS = 50_000
const NO_APIS: ReadonlySet<number> = new Set()

function originOf (url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}

/**
 * The gateway's memory of the catalog and of keys. Everything is loaded on first use and kept
 * until a change is heard of: at once from this instance (changes.ts), or from the counter that
 * `pollMs` reads for the other instances. A look-up that began before a change is used for its
 * own request but not kept.
 */
/** What the gateway applies of an API's stored policy, with its credentials opened. */
function gatewayPolicy (row: PolicyColumns, secrets: BackendSecrets): GatewayPolicy {
  const policy = policyOf(row)
  // Node gives request headers in lower case.
  const keyHeader = policy.keyHeader?.toLowerCase() ?? DEFAULT_KEY_HEADER
  const cors = policy.corsOrigins === '*' || policy.corsOrigins.length > 0
    ? { origins: policy.corsOrigins === '*' ? '*' as const : new Set(policy.corsOrigins), allowHeaders: [...new Set([keyHeader, 'content-type', ...policy.corsHeaders])].join(', ') }
    : null
  return {
    keyHeader,
    keyQuery: policy.keyQuery ?? DEFAULT_KEY_QUERY,
    cors,
    timeoutMs: policy.timeoutSeconds === null ? null : policy.timeoutSeconds * 1000,
    backendHeaders: secrets.headers,
    backendQuery: secrets.query.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&'),
    mock: policy.mock
  }
}

/** `openSecrets` opens an API's sealed backend credentials (kept in this memory only, never logged). */
export function createKeyCache (changes: GatewayChanges, pollMs: number, onError: (err: unknown) => void, db: Knex, openSecrets: (sealed: string | null) => BackendSecrets) {
  let generation = 0
  let catalog: { generation: number, value: Promise<Catalog>, loaded: Catalog | null } | null = null
  let keys = new Map<string, GatewayKey | null>()
  let seenVersion: number | null = null
  let poller: NodeJS.Timeout | null = null
  let polling: Promise<void> | null = null

  function invalidate (): void {
    generation++
    catalog = null
    keys = new Map()
  }
  const stopListening = changes.listen(invalidate)

  /**
   * Each revision's operations, compiled into a router; with their mock answers where the API
   * answers from its document (the drawn operations read a row at a time, the event loop let run between).
   */
  async function loadOperations (revisions: Array<{ revision: number, mock: boolean }>): Promise<Map<number, OperationRouter>> {
    const routers = new Map<number, OperationRouter>()
    const pause = createSlicer()
    for (const { revision, mock } of revisions) {
      const rows: Array<{ key: string, method: string, path: string, view?: string }> = await db('api_operations').where('revision', revision).orderBy('position')
        .select(mock ? ['key', 'method', 'path', 'view'] : ['key', 'method', 'path'])
      const entries: OperationEntry[] = []
      for (const row of rows) {
        entries.push({ key: row.key, method: row.method, path: row.path, mock: row.view === undefined ? undefined : mockAnswerOf((JSON.parse(row.view) as { responses: Parameters<typeof mockAnswerOf>[0] }).responses) })
        await pause()
      }
      routers.set(revision, compileOperations(entries))
    }
    return routers
  }

  async function loadCatalog (): Promise<Catalog> {
    const [apiRows, links, open] = await Promise.all([
      db('apis').select('id', 'path', 'service_url', 'reference_revision', 'cors_origins', 'cors_headers', 'key_header', 'key_query', 'supplied_schemes', 'timeout_seconds', 'mock', 'backend_secrets'),
      db('product_apis').select('product_id', 'api_id'),
      db('product_apis').join('products', 'products.id', 'product_apis.product_id')
        .where({ 'products.state': 'published', 'products.subscription_required': false })
        .orderBy('products.id').select('product_apis.api_id', 'product_apis.product_id')
    ])
    const openProduct = new Map<number, number>()
    for (const row of open as Array<{ api_id: number, product_id: number }>) if (!openProduct.has(row.api_id)) openProduct.set(row.api_id, row.product_id)
    const apis = new Map<string, GatewayApi>()
    let deepest = 1
    const rows = apiRows as Array<{ id: number, path: string, service_url: string, reference_revision: number | null, backend_secrets: string | null } & PolicyColumns>
    const operations = await loadOperations(rows.filter((row) => row.reference_revision !== null).map((row) => ({ revision: row.reference_revision as number, mock: Boolean(row.mock) })))
    for (const row of rows) {
      const serviceUrl = row.service_url.replace(/\/+$/, '')
      apis.set(row.path, { id: row.id, path: row.path, serviceUrl, origin: originOf(serviceUrl), openProductId: openProduct.get(row.id) ?? null, policy: gatewayPolicy(row, openSecrets(row.backend_secrets)), operations: row.reference_revision === null ? null : operations.get(row.reference_revision) ?? null })
      deepest = Math.max(deepest, row.path.split('/').length)
    }
    const productApis = new Map<number, Set<number>>()
    for (const row of links as Array<{ product_id: number, api_id: number }>) {
      let set = productApis.get(row.product_id)
      if (set === undefined) productApis.set(row.product_id, set = new Set())
      set.add(row.api_id)
    }
    return { apis, deepest, productApis }
  }

  /** The catalog: a promise shared by every request while it loads, kept for this generation. */
  function currentCatalog (): Promise<Catalog> {
    if (catalog !== null && catalog.generation === generation) return catalog.value
    const entry: { generation: number, value: Promise<Catalog>, loaded: Catalog | null } = { generation, value: loadCatalog(), loaded: null }
    catalog = entry
    entry.value.then((loaded) => { entry.loaded = loaded }, () => { if (catalog === entry) catalog = null })
    return entry.value
  }

  function match ({ apis, deepest }: Catalog, segments: string[]): FoundApi | null {
    for (let n = Math.min(deepest, segments.length); n >= 1; n--) {
      const api = apis.get(n === 1 ? segments[0] : segments.slice(0, n).join('/'))
      if (api !== undefined) return { api, rest: segments.slice(n) }
    }
    return null
  }

  /**
   * The API whose path is the longest prefix of these segments, and the rest of the path after it.
   * `segments` are the raw path after the gateway's base, split on "/".
   */
  async function findApi (segments: string[]): Promise<FoundApi | null> {
    return match(await currentCatalog(), segments)
  }

  /** The same from memory: undefined when the catalog is not loaded (call findApi). */
  function cachedApi (segments: string[]): FoundApi | null | undefined {
    if (catalog === null || catalog.generation !== generation || catalog.loaded === null) return undefined
    return match(catalog.loaded, segments)
  }

  async function loadKey (digest: string, productApis: Map<number, Set<number>>): Promise<GatewayKey | null> {
    const row: KeyRow | undefined = await db('subscription_keys')
      .join('subscriptions', 'subscriptions.id', 'subscription_keys.subscription_id')
      .join('products', 'products.id', 'subscriptions.product_id')
      .leftJoin('developers', 'developers.id', 'subscriptions.developer_id')
      .leftJoin('organisations', 'organisations.id', 'subscriptions.organisation_id')
      .where('subscription_keys.digest', digest)
      .first('subscription_keys.subscription_id', 'subscriptions.state', 'subscriptions.expires_at', 'subscriptions.developer_id', 'subscriptions.product_id',
        'developers.state as owner_state', 'subscriptions.organisation_id', 'organisations.state as organisation_state', 'products.state as product_state', 'products.rate_limit_calls', 'products.rate_limit_period',
        'products.quota_calls', 'products.quota_period', 'products.ip_allow')
    if (row === undefined) return null
    return {
      subscriptionId: row.subscription_id,
      developerId: row.developer_id ?? 0,
      productId: row.product_id,
      // An organisation's keys follow the organisation (a member blocked or gone changes nothing);
      // a developer's own keys follow the developer.
      usable: row.state === 'active' && row.product_state === 'published' &&
        (row.organisation_id === null ? row.owner_state === 'active' && row.developer_id !== null : row.organisation_state === 'active'),
      expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at),
      apiIds: productApis.get(row.product_id) ?? NO_APIS,
      rateLimit: row.rate_limit_calls !== null && row.rate_limit_period !== null ? { calls: row.rate_limit_calls, periodMs: row.rate_limit_period * 1000 } : null,
      quota: row.quota_calls !== null && row.quota_period !== null ? { calls: row.quota_calls, period: row.quota_period } : null,
      ipAllowed: ipAllowMatcher(row.ip_allow)
    }
  }

  /** The cached answer for a key's digest, if there is one (the fast path: no promise, no database). */
  function cachedKey (digest: string): GatewayKey | null | undefined {
    return keys.get(digest)
  }

  /** Looks a key up by its digest and remembers the answer, unless a change came meanwhile. */
  async function lookUpKey (digest: string): Promise<GatewayKey | null> {
    const started = generation
    const { productApis } = await currentCatalog()
    const found = await loadKey(digest, productApis)
    if (generation === started) {
      if (keys.size >= MAX_CACHED_KEYS) keys = new Map()
      keys.set(digest, found)
    }
    return found
  }

  async function poll (): Promise<void> {
    const version = await changes.version(db)
    if (seenVersion !== null && version !== seenVersion) invalidate()
    seenVersion = version
  }

  function start (): void {
    if (poller !== null) return
    poller = setInterval(() => {
      if (polling !== null) return
      polling = poll().catch(onError).finally(() => { polling = null })
    }, pollMs)
    poller.unref()
    polling = poll().catch(onError).finally(() => { polling = null })
  }

  async function stop (): Promise<void> {
    if (poller !== null) clearInterval(poller)
    poller = null
    stopListening()
    await polling
  }

  return { findApi, cachedApi, cachedKey, lookUpKey, invalidate, start, stop }
}

export type KeyCache = ReturnType<typeof createKeyCache>
