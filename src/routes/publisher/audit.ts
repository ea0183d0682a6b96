import type { FastifyInstance } from 'fastify'
import { AUDIT_ACTIONS, type AuditEvent, type AuditFilter } from '../../services/audit/audit-log'
import { pageProperty, pagedTitle, querySchema } from '../shared/params'
import { sendCsv } from '../shared/csv'

const filterProperties = {
  actor: { type: 'string', maxLength: 300 },
  target: { type: 'string', maxLength: 300 },
  action: { type: 'string', enum: ['', ...AUDIT_ACTIONS] }
}

const CSV_COLUMNS = ['time', 'actor', 'actor_id', 'action', 'target_type', 'target_id', 'target', 'client_address', 'details']

async function * csvBatches (events: AsyncGenerator<AuditEvent>): AsyncGenerator<Array<Array<string | number | null>>> {
  for await (const e of events) yield [[e.createdAt, e.actorLabel, e.actorId, e.action, e.targetType, e.targetId, e.targetLabel, e.ip, e.details]]
}

export default async function auditRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: AuditFilter & { page?: number } }>('/audit', {
    schema: querySchema({ ...filterProperties, ...pageProperty })
  }, async (request, reply) => {
    const { page, ...filter } = request.query
    const result = await app.services.audit.list(filter, page)
    const csvQuery = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== undefined && v !== '') as Array<[string, string]>).toString()
    return await reply.page('publisher/audit', { title: pagedTitle('Audit log', result), result, filter, actions: AUDIT_ACTIONS, csvQuery })
  })

  // Streamed: rows go out as they are read, a batch at a time.
  app.get<{ Querystring: AuditFilter }>('/audit.csv', { schema: querySchema(filterProperties) }, async (request, reply) => {
    return await sendCsv(reply, `portico-audit-${new Date().toISOString().slice(0, 10)}.csv`, CSV_COLUMNS, csvBatches(app.services.audit.events(request.query)))
  })
}
