import type { Knex } from 'knex'

/** A subscription's states, as in the reference product. */
export const SUBSCRIPTION_STATES = ['submitted', 'active', 'suspended', 'rejected', 'cancelled', 'expired'] as const
export type SubscriptionState = typeof SUBSCRIPTION_STATES[number]

/** States that still count against a product's limit and keep a product from being deleted quietly. */
export const LIVE_STATES: readonly SubscriptionState[] = ['submitted', 'active', 'suspended']

/** Deleting an account: its live subscriptions are cancelled in the same transaction. */
export async function cancelSubscriptionsOf (q: Knex | Knex.Transaction, developerIds: Knex.QueryBuilder | number[], now: string): Promise<number> {
  // An organisation's subscriptions are its own: the account that made one leaving changes nothing.
  return await q('subscriptions').whereIn('developer_id', developerIds).whereNull('organisation_id').whereIn('state', LIVE_STATES).update({ state: 'cancelled', ended_at: now, updated_at: now })
}
