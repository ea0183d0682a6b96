import t from 'tap'
import { makeApp } from '../helpers'
import { EVENT_ACTIONS, type EventAction } from '../../src/services/kernel/events'

const actor = { id: null, label: 'test', ip: '127.0.0.1' }

/**
 * Every action that can end a key or change what the gateway routes, written out here rather than
 * read from the code: the gateway must hear each one (in the transaction of the change), or a key
 * keeps working after its end until the cache happens to be dropped.
 */
const MUST_REACH_GATEWAY: EventAction[] = [
  // An owner who can no longer sign in can no longer call either; activating brings the keys back.
  'developer.blocked', 'developer.activated', 'developer.deleted', 'developer.closed-account',
  // Routing: which API a path is, where it goes, and the policies applied on the way.
  'api.created', 'api.edited', 'api.deleted', 'api.policy-changed',
  // What a key opens, its limits and quotas, whether the product is live, open products.
  'product.created', 'product.edited', 'product.published', 'product.unpublished', 'product.deleted', 'product.api-added', 'product.api-removed',
  // A key's subscription changing state, and a key replaced.
  'subscription.approved', 'subscription.rejected', 'subscription.suspended', 'subscription.activated', 'subscription.cancelled',
  'subscription.key-regenerated',
  // An organisation's keys follow its state; deleting it cancels its subscriptions.
  'organisation.blocked', 'organisation.activated', 'organisation.deleted'
]

async function version (app: Awaited<ReturnType<typeof makeApp>>): Promise<number> {
  return Number((await app.db('gateway_state').where('id', 1).first('version'))?.version)
}

t.test('every action that ends a key or changes routing reaches the gateway; every action reaches the audit log', async (t) => {
  const app = await makeApp(t)
  const { events } = app.services
  for (const action of MUST_REACH_GATEWAY) t.ok(events.subscribersOf(action).includes('gateway'), `${action} reaches the gateway`)
  for (const action of EVENT_ACTIONS) t.ok(events.subscribersOf(action).includes('audit log'), `${action} reaches the audit log`)
})

t.test('recording an event in a transaction writes its audit row and, for the gateway\'s, bumps the counter other instances poll', async (t) => {
  const app = await makeApp(t)
  for (const action of EVENT_ACTIONS) {
    const before = await version(app)
    await app.db.transaction(async (trx) => { await app.services.events.record(trx, { actor, action, target: { type: 'test', id: 1, label: action } }) })
    t.equal(await version(app) - before, MUST_REACH_GATEWAY.includes(action) ? 1 : 0, `${action}: the gateway ${MUST_REACH_GATEWAY.includes(action) ? 'hears it' : 'is not bothered'}`)
    t.ok(await app.db('audit_events').where({ action, target_label: action }).first('id'), `${action}: audited`)
  }
  const before = await version(app)
  await t.rejects(app.db.transaction(async (trx) => {
    await app.services.events.record(trx, { actor, action: 'developer.blocked', target: { type: 'test', id: 2, label: 'rolled back' } })
    throw new Error('the change failed')
  }))
  t.equal(await version(app), before, 'a change rolled back takes its event with it')
  t.notOk(await app.db('audit_events').where({ target_label: 'rolled back' }).first('id'), 'and its audit row')
})
