import type { Knex } from 'knex'
import { isoNow, type Clock } from '../kernel/clock'
import { likePattern, pageOf, type Page } from '../../db/paging'
import { EVENT_ACTIONS, type EventHandler } from '../kernel/events'

/** The audit log records every event: its filter offers every action. */
export const AUDIT_ACTIONS = EVENT_ACTIONS

/**
 * The audit log's subscriber: one row per event, written in the transaction of the change so both
 * land or neither does (a bulk change's many in few statements).
 */
export function auditWriter (clock: Clock): EventHandler {
  return async (trx, events) => {
    const now = isoNow(clock)
    for (let i = 0; i < events.length; i += 500) {
      await trx('audit_events').insert(events.slice(i, i + 500).map((event) => ({
        created_at: now,
        actor_id: event.actor.id,
        actor_label: event.actor.label,
        action: event.action,
        target_type: event.target?.type ?? null,
        target_id: event.target?.id ?? null,
        target_label: event.target?.label ?? null,
        ip: event.actor.ip,
        details: event.details === undefined ? null : JSON.stringify(event.details)
      })))
    }
  }
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
