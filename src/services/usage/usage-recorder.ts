import type { Knex } from 'knex'
import { BUCKET_COLUMNS, bucketOf } from './latency'

/** Why a call ended where it did: `forwarded` reached the backend (whatever it answered). */
export const OUTCOMES = ['forwarded', 'no-api', 'missing-key', 'invalid-key', 'rate-limited', 'too-many-calls', 'quota-exceeded', 'bad-path', 'body-timeout',
  'backend-busy', 'backend-unreachable', 'backend-timeout', 'backend-invalid', 'ip-refused', 'cors-preflight', 'cors-refused', 'mocked', 'mock-unmatched'] as const
export type Outcome = typeof OUTCOMES[number]

/** Whose call it was; 0 stands for "none" (no API matched, no key given). */
export interface UsageOwner {
  apiId: number
  productId: number
  subscriptionId: number
  developerId: number
}

interface Tally {
  hour: number
  apiId: number
  productId: number
  subscriptionId: number
  developerId: number
  status: number
  outcome: Outcome
  operation: string
  calls: number
  latencyMs: number
  /** Calls per latency bucket (as BUCKET_COLUMNS). */
  buckets: number[]
}

const HOUR_MS = 3_600_000
const ROWS_PER_STATEMENT = 200
const KEY_COLUMNS = ['hour', 'api_id', 'product_id', 'subscription_id', 'developer_id', 'status', 'outcome', 'operation']
const OPERATION_MAX = 600

/**
 * The tallies since the last flush, as a tree with one level per part of a tally's key (hour, API,
 * product, subscription, developer, status, outcome, operation): a call walks it by numbers and by
 * strings the gateway already holds, so no key string is built, and hashed, per call.
 */
interface Branch { next: Map<number | string, Branch>, tally: Tally | null }

const branch = (): Branch => ({ next: new Map(), tally: null })

function step (from: Branch, key: number | string): Branch {
  let to = from.next.get(key)
  if (to === undefined) {
    to = branch()
    from.next.set(key, to)
  }
  return to
}

function leaf (root: Branch, hour: number, owner: UsageOwner, status: number, outcome: Outcome, operation: string): Branch {
  return step(step(step(step(step(step(step(step(root, hour), owner.apiId), owner.productId), owner.subscriptionId), owner.developerId), status), outcome), operation)
}

/** What a row counted again adds to the stored one. */
const MERGE = (db: Knex): Record<string, Knex.Raw> => Object.fromEntries(['calls', 'latency_ms', ...BUCKET_COLUMNS]
  .map((column) => [column, db.raw('?? + ??', [`gateway_usage.${column}`, `excluded.${column}`])]))

/**
 * Usage, counted in memory per hour × API × product × subscription × developer × status code ×
 * outcome × operation, with latency buckets, and added to `gateway_usage` in batches (a few
 * statements a second at most, never one per call).
 */
export function createUsageRecorder (db: Knex) {
  let root = branch()
  /** The tallies in the tree, in the order they were first counted. */
  let tallies: Tally[] = []

  /** A tally a failed write gives back: merged with what was counted since. */
  function add (t: Tally): void {
    const at = leaf(root, t.hour, t, t.status, t.outcome, t.operation)
    const tally = at.tally
    if (tally === null) {
      at.tally = t
      tallies.push(t)
      return
    }
    tally.calls += t.calls
    tally.latencyMs += t.latencyMs
    for (let i = 0; i < t.buckets.length; i++) tally.buckets[i] += t.buckets[i]
  }

  /**
   * Counts one call that ended at `at` (ms): on the hot path, a walk down the tree and three
   * additions; objects only for a new combination. `operation` is the matched operation of the
   * API's document ("GET /pets/{petId}"), '' for none.
   */
  function record (owner: UsageOwner, status: number, outcome: Outcome, operation: string, latencyMs: number, at: number): void {
    const hour = at - (at % HOUR_MS)
    const code = status >= 100 && status <= 599 ? status : 500
    // Cut as the column keeps it, so two names alike up to there are one row of one statement.
    const name = operation.length > OPERATION_MAX ? operation.slice(0, OPERATION_MAX) : operation
    const found = leaf(root, hour, owner, code, outcome, name)
    const bucket = bucketOf(latencyMs)
    const tally = found.tally
    if (tally !== null) {
      tally.calls++
      tally.latencyMs += latencyMs
      tally.buckets[bucket]++
      return
    }
    const buckets = new Array<number>(BUCKET_COLUMNS.length).fill(0)
    buckets[bucket] = 1
    found.tally = {
      hour, apiId: owner.apiId, productId: owner.productId, subscriptionId: owner.subscriptionId, developerId: owner.developerId,
      status: code, outcome, operation: name, calls: 1, latencyMs, buckets
    }
    tallies.push(found.tally)
  }

  /** Adds what was counted since the last flush; on failure it is kept for the next one. */
  async function flush (): Promise<void> {
    if (tallies.length === 0) return
    const batch = tallies
    root = branch()
    tallies = []
    let written = 0
    try {
      for (let i = 0; i < batch.length; i += ROWS_PER_STATEMENT) {
        const rows = batch.slice(i, i + ROWS_PER_STATEMENT).map((t) => {
          const row: Record<string, number | string> = {
            hour: t.hour,
            api_id: t.apiId,
            product_id: t.productId,
            subscription_id: t.subscriptionId,
            developer_id: t.developerId,
            status_class: Math.floor(t.status / 100),
            status: t.status,
            outcome: t.outcome,
            operation: t.operation,
            calls: t.calls,
            latency_ms: Math.round(t.latencyMs)
          }
          BUCKET_COLUMNS.forEach((column, b) => { row[column] = t.buckets[b] })
          return row
        })
        await db('gateway_usage').insert(rows).onConflict(KEY_COLUMNS).merge(MERGE(db))
        written = i + rows.length
      }
    } catch (err) {
      for (const t of batch.slice(written)) add(t)
      throw err
    }
  }

  return { record, flush }
}

export type UsageRecorder = ReturnType<typeof createUsageRecorder>
