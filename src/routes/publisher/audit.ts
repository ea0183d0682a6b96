import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { AUDIT_ACTIONS, type AuditEvent, type AuditFilter } from '../../services/audit'
import { pageProperty, pagedTitle, querySchema } from '../shared/params'

const filterProperties = {
  actor: { type: 'string', maxLength: 300 },
  target: { type: 'string', maxLength: 300 },
  action: { type: 'string', enum: ['', ...AUDIT_ACTIONS] }
}

// What a spreadsheet may read as the start of a formula: = + - @ (and their full-width forms, which
// some spreadsheets fold to ASCII), after any leading whitespace; or a tab or carriage return.
const FORMULA_START = /^(?:\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]|[\t\r])/u

/** One CSV cell: quoted, and never read as a formula by a spreadsheet. */
export function csvCell (value: string | number | null): string {
  let text = value === null ? '' : String(value)
  if (FORMULA_START.test(text)) text = `'${text}`
  return `"${text.replace(/"/g, '""')}"`
}

const CSV_COLUMNS = ['time', 'actor', 'actor_id', 'action', 'target_type', 'target_id', 'target', 'client_address', 'details']

function csvLine (e: AuditEvent): string {
  return [e.createdAt, e.actorLabel, e.actorId, e.action, e.targetType, e.targetId, e.targetLabel, e.ip, e.details].map(csvCell).join(',') + '\r\n'
}

async function * csvLines (events: AsyncGenerator<AuditEvent>): AsyncGenerator<string> {
  yield CSV_COLUMNS.join(',') + '\r\n'
  for await (const event of events) yield csvLine(event)
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
    return await reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="portico-audit-${new Date().toISOString().slice(0, 10)}.csv"`)
      .send(Readable.from(csvLines(app.services.audit.events(request.query))))
  })
}
