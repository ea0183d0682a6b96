import type { Knex } from 'knex'
import { BUCKET_COLUMNS, bucketOf } from './latency'

/** Why a call ended where it did: `forwarded` reached the backend (whatever it answered). */
export const OUTCOMES = ['forwarded', 'no-api', 'missing-key', 'invalid-key', 'rate-limited', 'too-many-calls', 'quota-exceeded', 'bad-path', 'body-timeout',
  'backend-busy', 'backend-unreachable', 'backend-timeout', 'backend-invalid', 'ip-refused', 'cors-preflight', 'cors-refused', 'mocked', 'mock-unmatched'] as const
export type Outcome = typeof OUTCOMES[number]

/** One call, as the gateway saw it; 0 stands for "none" (no API matched, no key given). */
export interface CallRecord {
  apiId: number
  productId: number
  subscriptionId: number
  developerId: number
  status: number
  outcome: Outcome
  /** The matched operation of the API's document, as "GET /pets/{petId}"; '' for none. */
  operation: string
  latencyMs: number
  at: number
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

const keyOf = (t: Omit<Tally, 'calls' | 'latencyMs' | 'buckets'>): string =>
  `${t.hour}|${t.apiId}|${t.productId}|${t.subscriptionId}|${t.developerId}|${t.status}|${t.outcome}|${t.operation}`

/**
 * Usage, counted in memory per hour × API × product × subscription × developer × status code ×
 * outcome × operation, with latency buckets, and added to `gateway_usage` in batches (a few
 * statements a second at most, never one per call).
 */
/** What a row counted again adds to the stored one. */
const MERGE = (db: Knex): Record<string, Knex.Raw> => Object.fromEntries(['calls', 'latency_ms', ...BUCKET_COLUMNS]
  .map((column) => [column, db.raw('?? + ??', [`gateway_usage.${column}`, `excluded.${column}`])]))

export function createUsageRecorder (db: Knex) {
  let tallies = new Map<string, Tally>()

  function add (t: Tally): void {
    const key = keyOf(t)
    const tally = tallies.get(key)
    if (tally === undefined) tallies.set(key, t)
    else {
      tally.calls += t.calls
      tally.latencyMs += t.latencyMs
      for (let i = 0; i < t.buckets.length; i++) tally.buckets[i] += t.buckets[i]
    }
  }

  /** Counts one call: on the hot path, one string and one map look-up; an object only for a new combination. */
  function record (call: CallRecord): void {
    const hour = call.at - (call.at % HOUR_MS)
    const status = call.status >= 100 && call.status <= 599 ? call.status : 500
    const key = `${hour}|${call.apiId}|${call.productId}|${call.subscriptionId}|${call.developerId}|${status}|${call.outcome}|${call.operation}`
    const bucket = bucketOf(call.latencyMs)
    const tally = tallies.get(key)
    if (tally !== undefined) {
      tally.calls++
      tally.latencyMs += call.latencyMs
      tally.buckets[bucket]++
      return
    }
    const buckets = new Array<number>(BUCKET_COLUMNS.length).fill(0)
    buckets[bucket] = 1
    tallies.set(key, {
      hour, apiId: call.apiId, productId: call.productId, subscriptionId: call.subscriptionId, developerId: call.developerId,
      status, outcome: call.outcome, operation: call.operation.slice(0, OPERATION_MAX), calls: 1, latencyMs: call.latencyMs, buckets
    })
  }

  /** Adds what was counted since the last flush; on failure it is kept for the next one. */
  async function flush (): Promise<void> {
    if (tallies.size === 0) return
    const batch = [...tallies.values()]
    tallies = new Map()
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
