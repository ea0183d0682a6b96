import type { Knex } from 'knex'

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
  latencyMs: number
  at: number
}

interface Tally {
  hour: number
  apiId: number
  productId: number
  subscriptionId: number
  developerId: number
  statusClass: number
  outcome: Outcome
  calls: number
  latencyMs: number
}

const HOUR_MS = 3_600_000
const ROWS_PER_STATEMENT = 400
const KEY_COLUMNS = ['hour', 'api_id', 'product_id', 'subscription_id', 'developer_id', 'status_class', 'outcome']

/**
 * Usage, counted in memory per hour × API × product × subscription × developer × status class ×
 * outcome and added to `gateway_usage` in batches (a few statements a second at most, never one
 * per call).
 */
const keyOf = (t: Omit<Tally, 'calls' | 'latencyMs'>): string =>
  `${t.hour}|${t.apiId}|${t.productId}|${t.subscriptionId}|${t.developerId}|${t.statusClass}|${t.outcome}`

export function createUsageRecorder (db: Knex) {
  let tallies = new Map<string, Tally>()

  function add (t: Tally): void {
    const key = keyOf(t)
    const tally = tallies.get(key)
    if (tally === undefined) tallies.set(key, t)
    else {
      tally.calls += t.calls
      tally.latencyMs += t.latencyMs
    }
  }

  /** Counts one call: on the hot path, one string and one map look-up; an object only for a new combination. */
  function record (call: CallRecord): void {
    const hour = call.at - (call.at % HOUR_MS)
    const statusClass = Math.min(5, Math.max(1, Math.floor(call.status / 100)))
    const key = `${hour}|${call.apiId}|${call.productId}|${call.subscriptionId}|${call.developerId}|${statusClass}|${call.outcome}`
    const tally = tallies.get(key)
    if (tally !== undefined) {
      tally.calls++
      tally.latencyMs += call.latencyMs
      return
    }
    tallies.set(key, {
      hour, apiId: call.apiId, productId: call.productId, subscriptionId: call.subscriptionId, developerId: call.developerId,
      statusClass, outcome: call.outcome, calls: 1, latencyMs: call.latencyMs
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
        const rows = batch.slice(i, i + ROWS_PER_STATEMENT).map((t) => ({
          hour: t.hour,
          api_id: t.apiId,
          product_id: t.productId,
          subscription_id: t.subscriptionId,
          developer_id: t.developerId,
          status_class: t.statusClass,
          outcome: t.outcome,
          calls: t.calls,
          latency_ms: Math.round(t.latencyMs)
        }))
        await db('gateway_usage').insert(rows).onConflict(KEY_COLUMNS).merge({
          calls: db.raw('?? + excluded.calls', ['gateway_usage.calls']),
          latency_ms: db.raw('?? + excluded.latency_ms', ['gateway_usage.latency_ms'])
        })
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
