import type { Knex } from 'knex'

/**
 * How the gateway learns that a key may have ended or the catalog changed. A change bumps one
 * counter row in the same transaction (other instances poll it), and tells this instance's
 * gateway at once and again once the transaction has committed (so a lookup that raced the
 * change is not kept). Listeners are found through the connection's configuration object, which
 * a knex instance shares with its transactions: each app (or test app) hears only its own database.
 */
type Listener = () => void
const listeners = new WeakMap<object, Set<Listener>>()

function listenersOf (q: Knex | Knex.Transaction): Set<Listener> | undefined {
  return listeners.get(q.client.config as object)
}

/** Registers a listener for this database's key changes; returns the function that removes it. */
export function onKeyChange (db: Knex, listener: Listener): () => void {
  const config = db.client.config as object
  let set = listeners.get(config)
  if (set === undefined) listeners.set(config, set = new Set())
  set.add(listener)
  return () => { set.delete(listener) }
}

function notify (set: Set<Listener> | undefined): void {
  if (set !== undefined) for (const listener of set) listener()
}

/** Records that keys or the catalog changed: every instance's gateway looks them up afresh. */
export async function keysChanged (q: Knex | Knex.Transaction): Promise<void> {
  await q('gateway_state').where('id', 1).increment('version', 1)
  const set = listenersOf(q)
  notify(set)
  if (q.isTransaction === true) {
    (q as Knex.Transaction).executionPromise.then(() => { notify(set) }, () => {})
  }
}

/** The counter every instance polls. */
export async function keysVersion (db: Knex): Promise<number> {
  const row = await db('gateway_state').where('id', 1).first('version')
  return Number(row?.version ?? 0)
}
