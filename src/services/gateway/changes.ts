import type { Knex } from 'knex'
import type { EventAction } from '../kernel/events'

/**
 * The events that can end a key or change what the gateway serves: the gateway subscribes to
 * these (createServices), and a test fails when an action that ends a key or changes routing is
 * missing here.
 */
export const GATEWAY_EVENTS: readonly EventAction[] = [
  'developer.blocked', 'developer.activated', 'developer.deleted', 'developer.closed-account',
  'api.created', 'api.edited', 'api.deleted', 'api.policy-changed',
  'product.created', 'product.edited', 'product.published', 'product.unpublished', 'product.deleted', 'product.api-added', 'product.api-removed',
  'subscription.approved', 'subscription.rejected', 'subscription.suspended', 'subscription.activated', 'subscription.cancelled',
  'subscription.key-regenerated',
  // An organisation's keys follow its state.
  'organisation.blocked', 'organisation.activated', 'organisation.deleted'
]

type Listener = () => void

/**
 * How the gateway learns that a key may have ended or the catalog changed. A change bumps one
 * counter row in the same transaction (other instances poll it), and tells this instance's
 * gateway at once and again once the transaction has committed (so a lookup that raced the
 * change is not kept). One per set of services: each app hears only its own changes.
 */
export function createGatewayChanges () {
  const listeners = new Set<Listener>()

  function notify (): void {
    for (const listener of listeners) listener()
  }

  /** Records that keys or the catalog changed: every instance's gateway looks them up afresh. */
  async function changed (q: Knex | Knex.Transaction): Promise<void> {
    await q('gateway_state').where('id', 1).increment('version', 1)
    notify()
    if (q.isTransaction === true) (q as Knex.Transaction).executionPromise.then(notify, () => {})
  }

  /** Registers a listener for this instance's changes; returns the function that removes it. */
  function listen (listener: Listener): () => void {
    listeners.add(listener)
    return () => { listeners.delete(listener) }
  }

  return { changed, listen, version: keysVersion }
}

export type GatewayChanges = ReturnType<typeof createGatewayChanges>

/** The counter every instance polls. */
export async function keysVersion (db: Knex): Promise<number> {
  const row = await db('gateway_state').where('id', 1).first('version')
  return Number(row?.version ?? 0)
}
