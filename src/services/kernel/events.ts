import type { Knex } from 'knex'

/** Who did something, and from where: every event names one. */
export interface Actor {
  id: number | null
  label: string
  ip: string | null
}

/** What an event happened to. */
export interface EventTarget {
  type: string
  id: number | null
  label: string
}

/** Every event the services record: the audit log's filter offers these, and `record` takes no other. */
export const EVENT_ACTIONS = [
  'administrator.created', 'developer.created', 'developer.invited', 'invitation.resent', 'invitation.revoked', 'invitation.accepted',
  'developer.blocked', 'developer.activated', 'developer.deleted', 'group.created', 'group.edited', 'group.deleted',
  'group.member-added', 'group.member-removed', 'template.edited', 'template.reset', 'settings.changed',
  'developer.signed-up', 'developer.confirmed', 'developer.email-changed', 'developer.password-reset', 'developer.closed-account',
  'api.created', 'api.edited', 'api.deleted', 'api.policy-changed', 'product.created', 'product.edited', 'product.published', 'product.unpublished', 'product.deleted',
  'product.api-added', 'product.api-removed', 'product.group-added', 'product.group-removed',
  'subscription.created', 'subscription.approved', 'subscription.rejected', 'subscription.suspended', 'subscription.activated',
  'subscription.cancelled', 'subscription.renamed', 'subscription.key-regenerated', 'subscription.keys-viewed', 'api-token.created', 'api-token.revoked',
  'identity-provider.created', 'identity-provider.edited', 'identity-provider.deleted', 'developer.signed-in-with-provider', 'developer.provider-sign-in-refused',
  'developer.mfa-enabled', 'developer.mfa-disabled', 'developer.mfa-reset', 'developer.recovery-codes-renewed',
  'organisation.created', 'organisation.edited', 'organisation.invited', 'organisation.member-joined', 'organisation.member-left', 'organisation.member-removed',
  'organisation.role-changed', 'organisation.blocked', 'organisation.activated', 'organisation.deleted'
] as const

export type EventAction = typeof EVENT_ACTIONS[number]

/** Something that happened in the domain: who, what, to what, and the particulars. */
export interface DomainEvent {
  actor: Actor
  action: EventAction
  target?: EventTarget
  details?: Record<string, unknown>
}

type Db = Knex | Knex.Transaction

/** Hears events inside the transaction that recorded them: what it writes lands with the change or not at all. */
export type EventHandler = (trx: Db, events: readonly DomainEvent[]) => Promise<void>

interface Subscription {
  name: string
  /** null: every action. */
  actions: ReadonlySet<EventAction> | null
  handle: EventHandler
}

/**
 * The one place a change is announced. A service records its events in the transaction of the
 * change; the subscribers registered in `createServices` (the audit log, the gateway's
 * invalidation) each hear the ones they asked for, in that transaction, in the order they subscribed.
 */
export function createEvents () {
  const subscriptions: Subscription[] = []

  /** `actions`: the actions this subscriber hears, or 'every'. */
  function subscribe (name: string, actions: readonly EventAction[] | 'every', handle: EventHandler): void {
    subscriptions.push({ name, actions: actions === 'every' ? null : new Set(actions), handle })
  }

  /** Records events (one or a bulk change's many) in the caller's transaction. */
  async function record (trx: Db, events: DomainEvent | readonly DomainEvent[]): Promise<void> {
    const all = Array.isArray(events) ? events as readonly DomainEvent[] : [events as DomainEvent]
    if (all.length === 0) return
    for (const { actions, handle } of subscriptions) {
      const heard = actions === null ? all : all.filter((event) => actions.has(event.action))
      if (heard.length > 0) await handle(trx, heard)
    }
  }

  /** The subscribers that hear this action, by name. */
  function subscribersOf (action: EventAction): string[] {
    return subscriptions.filter(({ actions }) => actions === null || actions.has(action)).map(({ name }) => name)
  }

  return { subscribe, record, subscribersOf }
}

export type Events = ReturnType<typeof createEvents>

/** An action someone takes on their own account: they are both the actor and the target. */
export function selfAction (account: { id: number, email: string }, ip: string | null): { actor: Actor, target: EventTarget } {
  return { actor: { id: account.id, label: account.email, ip }, target: { type: 'developer', id: account.id, label: account.email } }
}
