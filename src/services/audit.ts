import type { Knex } from 'knex'
import { isoNow, type Clock } from './clock'

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

export interface AuditEntry {
  actor: Actor
  action: string
  target?: AuditTarget
  details?: Record<string, unknown>
}

/** Writes one audit event; pass the transaction of the change so both land or neither does. */
export async function recordAudit (trx: Knex | Knex.Transaction, clock: Clock, entry: AuditEntry): Promise<void> {
  await trx('audit_events').insert({
    created_at: isoNow(clock),
    actor_id: entry.actor.id,
    actor_label: entry.actor.label,
    action: entry.action,
    target_type: entry.target?.type ?? null,
    target_id: entry.target?.id ?? null,
    target_label: entry.target?.label ?? null,
    ip: entry.actor.ip,
    details: entry.details === undefined ? null : JSON.stringify(entry.details)
  })
}
