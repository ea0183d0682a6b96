import type { Knex } from 'knex'
import { systemClock, type Clock } from '../kernel/clock'
import type { GatewayChanges } from './changes'
import type { BackendSecrets } from './policies'
import type { Metrics } from '../metrics/metrics'
import type { Outbox } from '../mail/outbox'
import { createUsageRecorder, type Outcome } from '../usage/usage-recorder'
import { createKeyCache, type FoundApi, type GatewayApi, type GatewayKey } from './key-cache'
import { createConcurrencyLimiter, createQuotaCounter, hhmmss, type QuotaCrossing } from './limits'
import { createRateLimiter } from '../kernel/rate-limiter'
import { isWellFormedKey, keyDigest } from '../subscriptions/key-store'

/** The reference product's words, as the contract gives them. */
export const MESSAGES = {
  noApi: 'Resource not found',
  missingKey: 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.',
  invalidKey: 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
  rateLimited: (seconds: number) => `Rate limit is exceeded. Try again in ${seconds} seconds.`,
  quotaExceeded: (wait: string) => `Out of call volume quota. Quota will be replenished in ${wait}.`,
  ipRefused: (ip: string) => `Caller IP address ${ip} is not allowed to call this API.`,
  tooManyCalls: (max: number) => `Too many calls at once: at most ${max} may be in progress for one subscription (or one client without a key). Try again when one has finished.`
}

/** Who a call is counted under (0: none). */
export interface CallOwner { apiId: number, productId: number, subscriptionId: number, developerId: number }

/** Whose concurrent calls a call counts among: its subscription, or `ip:<address>` without a key. */
export type Caller = number | string

export type Admission =
  /** An admitted call holds one of its caller's slots until `release(caller)`. */
  | { admitted: true, api: GatewayApi, rest: string[], owner: CallOwner, caller: Caller }
  /** A refusal names the API when one was found (its CORS policy still applies to the answer). */
  | { admitted: false, status: number, message: string, outcome: Outcome, owner: CallOwner, retryAfter?: number, api: GatewayApi | null }

/** The key a call carries for this API (its policy names the header and the query parameter), or null. */
export type KeyOf = (api: GatewayApi) => string | null

export interface GatewayOptions {
  /** How often other instances' changes are looked for (ms). */
  pollMs?: number
  /** How often quota and usage counts are written (ms); at least once a second. */
  flushMs?: number
}

const NOBODY: CallOwner = { apiId: 0, productId: 0, subscriptionId: 0, developerId: 0 }

/**
 * The gateway's decisions, in the contract's order: which API, which key, rate limit, quota.
 * Keys and the catalog come from memory (key-cache.ts); counts go to the database in batches.
 */
export interface GatewayDeps {
  db: Knex
  /** Where keys and the catalog are read (SQLite's read connections); the writer when not given. */
  readDb?: Knex
  clock: Clock
  /** Counts each call for /metrics, when it is on. */
  metrics?: Metrics | null
  /** Opens an API's sealed backend credentials. */
  openSecrets: (sealed: string | null) => BackendSecrets
  /** Where this instance hears of changes at once (the counter is polled for the others). */
  changes: GatewayChanges
  outbox: Outbox
  report: (err: unknown, what: string) => void
  /** GATEWAY_CONCURRENT_CALLS: calls one subscription (or one client without a key) may have in progress at once. */
  concurrentCalls: number
}

export function createGateway (deps: GatewayDeps, options: GatewayOptions = {}) {
  const { db, clock, outbox, report } = deps
  // Keys and the catalog are read on SQLite's read connections, which never wait for a writer
  // (another process's included): a call whose key must be looked up is not held behind a write.
  const keys = createKeyCache(deps.changes, options.pollMs ?? 250, (err) => { report(err, 'gateway: change poll failed') }, deps.readDb ?? db, deps.openSecrets)
  const rates = createRateLimiter()
  const maxConcurrent = deps.concurrentCalls
  const concurrency = createConcurrencyLimiter(maxConcurrent)
  // On every call: the system clock's milliseconds without a Date (a test's clock as it is).
  const nowMs = clock === systemClock ? Date.now : () => clock.now().getTime()
  const quotas = createQuotaCounter(db, warnOwner, nowMs)
  const usage = createUsageRecorder(db)
  let flusher: NodeJS.Timeout | null = null
  let flushing: Promise<void> | null = null

  /** quota-approaching: the owner (an organisation's owners) hears once a period that 90% of the quota is used. */
  async function warnOwner (crossing: QuotaCrossing): Promise<void> {
    await db.transaction(async (trx) => {
      const row = await trx('subscriptions')
        .join('products', 'products.id', 'subscriptions.product_id')
        .where('subscriptions.id', crossing.subscriptionId)
        .first('subscriptions.display_name', 'subscriptions.developer_id', 'subscriptions.organisation_id', 'products.name as product_name')
      if (row === undefined) return
      const people = trx('developers').where('developers.state', 'active')
      if (row.organisation_id === null) void people.where('developers.id', row.developer_id)
      else void people.join('organisation_members', 'organisation_members.developer_id', 'developers.id').where({ 'organisation_members.organisation_id': row.organisation_id, 'organisation_members.role': 'owner' })
      const recipients: Array<{ id: number, email: string, first_name: string, last_name: string }> = await people.select('developers.id', 'developers.email', 'developers.first_name', 'developers.last_name')
      for (const to of recipients) {
        await outbox.queueEmail(trx, 'quota-approaching', { id: to.id, email: to.email, firstName: to.first_name, lastName: to.last_name }, {
          ProdName: row.product_name,
          SubscriptionName: row.display_name,
          QuotaCalls: String(crossing.calls),
          ResetsAt: new Date(crossing.resetsAt).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC')
        })
      }
    })
  }

  const refuse = (status: number, message: string, outcome: Outcome, owner: CallOwner, retryAfter?: number, api: GatewayApi | null = null): Admission =>
    ({ admitted: false, status, message, outcome, owner, retryAfter, api })

  /**
   * Decides one call. `segments` is the raw path after the gateway's base, split on "/"; `keyOf`
   * reads the subscription key the call sends for the API found (header or query), or null;
   * `client` the caller's address.
   */
  function admit (segments: string[], keyOf: KeyOf, client: string): Admission | Promise<Admission> {
    // The fast path stays synchronous: catalog and key in memory, no promise.
    const found = keys.cachedApi(segments)
    return found === undefined ? keys.findApi(segments).then((loaded) => decide(loaded, keyOf, client)) : decide(found, keyOf, client)
  }

  /** The API a path is for (a preflight needs no more), from memory when it can. */
  function findApi (segments: string[]): FoundApi | null | Promise<FoundApi | null> {
    const found = keys.cachedApi(segments)
    return found === undefined ? keys.findApi(segments) : found
  }

  function decide (found: FoundApi | null, keyOf: KeyOf, client: string): Admission | Promise<Admission> {
    if (found === null) return refuse(404, MESSAGES.noApi, 'no-api', NOBODY)
    const { api } = found
    const key = keyOf(api)
    if (key === null) {
      if (api.openProductId === null) return refuse(401, MESSAGES.missingKey, 'missing-key', { ...NOBODY, apiId: api.id }, undefined, api)
      const owner = { ...NOBODY, apiId: api.id, productId: api.openProductId }
      const caller = `ip:${client}`
      if (!concurrency.take(caller)) return refuse(429, MESSAGES.tooManyCalls(maxConcurrent), 'too-many-calls', owner, 1, api)
      return { admitted: true, api, rest: found.rest, owner, caller }
    }
    // Not a key's shape (32 hex characters): refused before any look-up, and nothing is remembered.
    if (!isWellFormedKey(key)) return refuse(401, MESSAGES.invalidKey, 'invalid-key', { ...NOBODY, apiId: api.id }, undefined, api)
    const digest = keyDigest(key)
    const cached = keys.cachedKey(digest)
    return cached === undefined ? keys.lookUpKey(digest).then((loaded) => judge(found, loaded, client)) : judge(found, cached, client)
  }

  /** The key's checks, in order: valid for this API, the product's client addresses, rate limit, quota. */
  function judge ({ api, rest }: FoundApi, entry: GatewayKey | null, client: string): Admission | Promise<Admission> {
    const now = nowMs()
    if (entry === null) return refuse(401, MESSAGES.invalidKey, 'invalid-key', { ...NOBODY, apiId: api.id }, undefined, api)
    const owner: CallOwner = { apiId: api.id, productId: entry.productId, subscriptionId: entry.subscriptionId, developerId: entry.developerId }
    if (!entry.usable || (entry.expiresAt !== null && entry.expiresAt <= now) || !entry.apiIds.has(api.id)) {
      return refuse(401, MESSAGES.invalidKey, 'invalid-key', owner, undefined, api)
    }
    if (entry.ipAllowed !== null && !entry.ipAllowed(client)) return refuse(403, MESSAGES.ipRefused(client), 'ip-refused', owner, undefined, api)
    if (entry.rateLimit !== null) {
      const wait = rates.take(entry.subscriptionId, entry.rateLimit, now)
      if (wait > 0) {
        const seconds = Math.ceil(wait / 1000)
        return refuse(429, MESSAGES.rateLimited(seconds), 'rate-limited', owner, seconds, api)
      }
    }
    // Before the quota: a call refused for being one too many does not spend it.
    const caller = entry.subscriptionId
    if (!concurrency.take(caller)) return refuse(429, MESSAGES.tooManyCalls(maxConcurrent), 'too-many-calls', owner, 1, api)
    const admitted: Admission = { admitted: true, api, rest, owner, caller }
    if (entry.quota === null) return admitted
    const quotaAnswer = (wait: number): Admission => {
      if (wait === 0) return admitted
      concurrency.release(caller)
      return refuse(403, MESSAGES.quotaExceeded(hhmmss(wait)), 'quota-exceeded', owner, undefined, api)
    }
    const taken = quotas.take(entry.subscriptionId, entry.quota, now)
    if (typeof taken === 'number') return quotaAnswer(taken)
    return taken.then(quotaAnswer, (err: unknown) => {
      concurrency.release(caller)
      throw err
    })
  }

  /** Counts a call that ended; `operation` is its matched operation ("GET /pets/{petId}"), '' for none. */
  function record (owner: CallOwner, status: number, outcome: Outcome, latencyMs: number, operation = ''): void {
    usage.record(owner, status, outcome, operation, latencyMs, nowMs())
    deps.metrics?.gatewayCall(owner.apiId, owner.productId, status, outcome, latencyMs)
  }

  /** Writes quota and usage counts now (also on close, and in tests). */
  async function flush (releaseReservations = false): Promise<void> {
    while (flushing !== null) await flushing
    flushing = (async () => {
      try {
        await quotas.flush(releaseReservations)
      } catch (err) {
        report(err, 'gateway: quota write failed')
      }
      try {
        await usage.flush()
      } catch (err) {
        report(err, 'gateway: usage write failed')
      }
    })()
    try {
      await flushing
    } finally {
      flushing = null
    }
  }

  function start (): void {
    keys.start()
    if (flusher !== null) return
    flusher = setInterval(() => { if (flushing === null) void flush() }, Math.min(options.flushMs ?? 500, 1000))
    flusher.unref()
  }

  async function stop (): Promise<void> {
    if (flusher !== null) clearInterval(flusher)
    flusher = null
    await keys.stop()
    // Closing: what this instance reserved and did not use goes back to the other instances.
    await flush(true)
  }

  return { admit, findApi, release: concurrency.release, record, flush: async () => { await flush() }, start, stop, invalidate: keys.invalidate }
}

export type Gateway = ReturnType<typeof createGateway>
