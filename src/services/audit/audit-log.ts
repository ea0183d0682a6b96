import type { Knex } from 'knex'
import { isoNow, type Clock } from '../kernel/clock'
import { likePattern, pageOf, type Page } from '../../db/paging'
import { keysChanged } from '../gateway/changes'

/** Who did something, and from where: every admin action records one. */
export interface Actor {
  id: number | null
  label: string
  ip: string | null
}

export interface AuditTarget {
  type: string
  id: number | null
  label: string
}

/** Every action the log knows: the filter offers these, and recordAudit takes no other. */
export const AUDIT_ACTIONS = [
  'administrator.created', 'developer.created', 'developer.invited', 'invitation.resent', 'invitation.revoked', 'invitation.accepted',
  'developer.blocked', 'developer.activated', 'developer.deleted', 'group.created', 'group.edited', 'group.deleted',
  'group.member-added', 'group.member-removed', 'template.edited', 'template.reset', 'settings.changed',
  'developer.signed-up', 'developer.confirmed', 'developer.email-changed', 'developer.password-reset', 'developer.closed-account',
  'api.created', 'api.edited', 'api.deleted', 'product.created', 'product.edited', 'product.published', 'product.unpublished', 'product.deleted',
  'product.api-added', 'product.api-removed', 'product.group-added', 'product.group-removed',
  'subscription.created', 'subscription.approved', 'subscription.rejected', 'subscription.suspended', 'subscription.activated',
  'subscription.cancelled', 'subscription.renamed', 'subscription.key-regenerated', 'api-token.created', 'api-token.revoked'
] as const

export type AuditAction = typeof AUDIT_ACTIONS[number]

/**
 * Actions that can end a key or change what the gateway serves. Every way to do them is audited,
 * so recording one is also where the gateway hears of it (in the same transaction).
 */
const GATEWAY_ACTIONS: ReadonlySet<AuditAction> = new Set<AuditAction>([
  'developer.blocked', 'developer.activated', 'developer.deleted', 'developer.closed-account',
  'api.created', 'api.edited', 'api.deleted',
  'product.created', 'product.edited', 'product.published', 'product.unpublished', 'product.deleted', 'product.api-added', 'product.api-removed',
  'subscription.approved', 'subscription.rejected', 'subscription.suspended', 'subscription.activated', 'subscription.cancelled',
  'subscription.key-regenerated'
])

export interface AuditEntry {
  actor: Actor
  action: AuditAction
  target?: AuditTarget
  details?: Record<string, unknown>
}

/** Writes one audit event; pass the transaction of the change so both land or neither does. */
export async function recordAudit (trx: Knex | Knex.Transaction, clock: Clock, entry: AuditEntry): Promise<void> {
  await recordAudits(trx, clock, [entry])
}

/** Writes many audit events in few statements (a bulk change: one event per account). */
export async function recordAudits (trx: Knex | Knex.Transaction, clock: Clock, entries: AuditEntry[]): Promise<void> {
  const now = isoNow(clock)
  for (let i = 0; i < entries.length; i += 500) {
    await trx('audit_events').insert(entries.slice(i, i + 500).map((entry) => ({
      created_at: now,
      actor_id: entry.actor.id,
      actor_label: entry.actor.label,
      action: entry.action,
      target_type: entry.target?.type ?? null,
      target_id: entry.target?.id ?? null,
      target_label: entry.target?.label ?? null,
      ip: entry.actor.ip,
      details: entry.details === undefined ? null : JSON.stringify(entry.details)
    })))
  }
  if (entries.some((entry) => GATEWAY_ACTIONS.has(entry.action))) await keysChanged(trx)
}

export interface AuditEvent {
  id: number
  createdAt: string
  actorId: number | null
  actorLabel: string
  action: string
  targetType: string | null
  targetId: number | null
  targetLabel: string | null
  ip: string | null
  details: string | null
}

export interface AuditFilter {
  actor?: string
  target?: string
  action?: string
}

export const AUDIT_PAGE_SIZE = 50


interface AuditRow {
  id: number
  created_at: string
  actor_id: number | null
  actor_label: string
  action: string
  target_type: string | null
  target_id: number | null
  target_label: string | null
  ip: string | null
  details: string | null
}

function toEvent (row: AuditRow): AuditEvent {
  return {
    id: row.id,
    createdAt: row.created_at,
    actorId: row.actor_id,
    actorLabel: row.actor_label,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    targetLabel: row.target_label,
    ip: row.ip,
    details: row.details
  }
}

function filtered (db: Knex, filter: AuditFilter): Knex.QueryBuilder {
  const query = db('audit_events')
  const contains = (text: string) => likePattern(text.trim().toLowerCase())
  if (filter.actor !== undefined && filter.actor.trim() !== '') void query.whereRaw('lower(actor_label) like ? escape ?', [contains(filter.actor), '\\'])
  if (filter.target !== undefined && filter.target.trim() !== '') void query.whereRaw('lower(target_label) like ? escape ?', [contains(filter.target), '\\'])
  if (filter.action !== undefined && filter.action !== '') void query.where('action', filter.action)
  return query
}

/** The audit log, newest first, a page at a time. */
export async function listAudit (db: Knex, filter: AuditFilter, page: number | undefined): Promise<Page<AuditEvent>> {
  return await pageOf(filtered(db, filter), page, AUDIT_PAGE_SIZE, async (query) => {
    const rows: AuditRow[] = await query.orderBy('id', 'desc').select()
    return rows.map(toEvent)
  })
}

/** The matching events, newest first, read in batches by id: never the whole log in memory. */
export async function * auditEvents (db: Knex, filter: AuditFilter, batch = 500): AsyncGenerator<AuditEvent> {
  let before: number | null = null
  for (;;) {
    const query = filtered(db, filter).orderBy('id', 'desc').limit(batch)
    if (before !== null) void query.where('id', '<', before)
    const rows: AuditRow[] = await query.select()
    for (const row of rows) yield toEvent(row)
    if (rows.length < batch) return
    before = rows[rows.length - 1].id
  }
}

/** An action someone takes on their own account: they are both the actor and the target. */
export function selfAction (account: { id: number, email: string }, ip: string | null): { actor: Actor, target: AuditTarget } {
  return { actor: { id: account.id, label: account.email, ip }, target: { type: 'developer', id: account.id, label: account.email } }
}
