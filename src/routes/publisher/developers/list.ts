import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { SORTS, type DeveloperQuery, type DeveloperSort } from '../../../services/accounts/developer-list'
import { displayName } from '../../../services/accounts/account-store'
import { DomainError } from '../../../services/kernel/errors'
import type { BulkReport } from '../../../http/session-data'
import { actorOf } from '../../../http/request-account'
import { sendCsv } from '../../shared/csv'
import { formSchema, type FormBody } from '../../shared/forms'
import { pageProperty, pagedTitle, querySchema } from '../../shared/params'

/** The Developers list: search, filters, sort and pages; its CSV export; bulk actions on ticked rows. */

interface ListQuery {
  q?: string
  state?: '' | 'active' | 'blocked'
  group?: string
  sort?: DeveloperSort
  page?: number
  /** "all": the page again with every row ticked (select all without JavaScript). */
  select?: 'all'
}

const filterProperties = {
  q: { type: 'string', maxLength: 200 },
  state: { type: 'string', enum: ['', 'active', 'blocked'] },
  group: { type: 'string', pattern: '^[0-9]{0,15}$' },
  sort: { type: 'string', enum: Object.keys(SORTS) }
}
const listSchema = querySchema({ ...filterProperties, ...pageProperty, select: { type: 'string', enum: ['all'] } })
const csvSchema = querySchema(filterProperties)

export const EXPORT_COLUMNS = ['email', 'firstName', 'lastName', 'groups', 'state', 'createdAt', 'lastSignInAt', 'id']

const BULK_ACTIONS = ['block', 'activate', 'addToGroup', 'delete'] as const
type BulkAction = typeof BULK_ACTIONS[number]
const BULK_IDS_MAX = 1000
// The bulk form carries the list's filters, so every answer can lead back to the same list.
const bulkForm = formSchema({}, {
  ids: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9]{1,10}$' }), { maxItems: BULK_IDS_MAX })),
  action: Type.Optional(Type.String({ maxLength: 20 })),
  groupId: Type.Optional(Type.String({ maxLength: 20 })),
  confirm: Type.Optional(Type.Literal('yes')),
  q: Type.Optional(Type.String({ maxLength: 200 })),
  state: Type.Optional(Type.String({ maxLength: 20 })),
  group: Type.Optional(Type.String({ maxLength: 20 })),
  sort: Type.Optional(Type.String({ maxLength: 20 })),
  page: Type.Optional(Type.String({ maxLength: 10 }))
})
type BulkBody = FormBody<typeof bulkForm>

/** The list's own query from a bulk form's fields: anything odd is dropped. */
function listQueryOf (body: BulkBody): ListQuery {
  const query: ListQuery = {}
  if (body.q !== undefined && body.q !== '') query.q = body.q
  if (body.state === 'active' || body.state === 'blocked') query.state = body.state
  if (body.group !== undefined && /^[0-9]{1,15}$/.test(body.group)) query.group = body.group
  if (body.sort !== undefined && body.sort in SORTS) query.sort = body.sort as DeveloperSort
  if (body.page !== undefined && /^[1-9][0-9]{0,6}$/.test(body.page)) query.page = Number(body.page)
  return query
}

/** The list's URL for a query. */
export function listUrl (query: ListQuery, path = '/admin/developers'): string {
  const params = new URLSearchParams()
  for (const key of ['q', 'state', 'group', 'sort', 'page'] as const) {
    const value = query[key]
    if (value !== undefined && value !== '') params.set(key, String(value))
  }
  const search = params.toString()
  return search === '' ? path : `${path}?${search}`
}

const BULK_TITLES: Record<BulkAction, string> = { block: 'Block', activate: 'Activate', addToGroup: 'Add to group', delete: 'Delete' }

export default async function developerListRoutes (app: FastifyInstance): Promise<void> {
  const { accounts } = app.services

  function developerQuery ({ q, state, group, sort, page }: ListQuery): DeveloperQuery {
    return { q, state: state === '' ? undefined : state, groupId: group === undefined || group === '' ? undefined : Number(group), sort, page }
  }

  /** The list page; `selected` ticks rows (select all, or a bulk form sent back with an error). */
  async function listPage (query: ListQuery, data: { selected?: Set<number> | 'all', errors?: Record<string, string>, values?: Record<string, unknown> } = {}) {
    const { groups, ...result } = await app.services.developers.list(developerQuery(query))
    const selected = data.selected === 'all' ? new Set(result.rows.map((row) => row.id)) : data.selected ?? new Set<number>()
    return {
      title: pagedTitle('Developers', result),
      result,
      groups,
      query,
      displayName,
      selected,
      errors: data.errors ?? {},
      values: data.values ?? {},
      listUrl: listUrl(query),
      csvUrl: listUrl({ ...query, page: undefined }, '/admin/developers.csv')
    }
  }

  // The filtered list as CSV, every page of it, streamed a batch at a time. Its first columns are
  // the ones the import reads, so an export can be imported elsewhere.
  app.get<{ Querystring: ListQuery }>('.csv', { schema: csvSchema }, async (request, reply) => {
    const { page: _, ...query } = developerQuery(request.query)
    const groups = app.services.groups
    async function * batches (): AsyncGenerator<Array<Array<string | number | null>>> {
      for await (const rows of app.services.developers.walk(query)) {
        const memberships = await groups.groupsOf(rows.map((row) => row.id))
        yield rows.map((a) => [a.email, a.firstName, a.lastName, (memberships.get(a.id) ?? []).map((g) => g.name).join('; '), a.state, a.createdAt, a.lastSignInAt, a.id])
      }
    }
    return await sendCsv(reply, `portico-developers-${new Date().toISOString().slice(0, 10)}.csv`, EXPORT_COLUMNS, batches())
  })

  app.get<{ Querystring: ListQuery }>('/', { schema: listSchema }, async (request, reply) => {
    return await reply.page('publisher/developers/list', await listPage(request.query, { selected: request.query.select === 'all' ? 'all' : undefined }))
  })

  // Bulk actions: block, activate, add to group, delete (after a page listing who). One transaction
  // each; every account by the single action's rules, audited alone; the result page says what
  // happened to each.
  app.post<{ Body: BulkBody }>('/bulk', { schema: bulkForm }, async (request, reply) => {
    const query = listQueryOf(request.body)
    const ids = [...new Set((request.body.ids ?? []).map(Number))]
    const action = request.body.action as BulkAction
    const again = async (errors: Record<string, string>) =>
      await reply.page('publisher/developers/list', await listPage(query, { selected: new Set(ids), errors, values: { action: request.body.action, groupId: request.body.groupId } }), 400)
    const errors: Record<string, string> = {}
    if (ids.length === 0) errors.ids = 'Select at least one developer: tick the boxes in the list (or "Select all on this page").'
    if (!(BULK_ACTIONS as readonly string[]).includes(action)) errors.action = 'Choose what to do with the selected developers.'
    if (action === 'addToGroup' && !(request.body.groupId ?? '').match(/^[1-9][0-9]{0,9}$/)) errors.groupId = 'Choose the group to add them to.'
    if (Object.keys(errors).length > 0) return await again(errors)

    const actor = actorOf(request)
    if (action === 'delete' && request.body.confirm !== 'yes') {
      const chosen = await accounts.findMany(ids)
      return await reply.page('publisher/developers/bulk-delete', {
        title: `Delete ${chosen.length} ${chosen.length === 1 ? 'developer' : 'developers'}?`,
        chosen: chosen.map((account) => ({ id: account.id, email: account.email, name: displayName(account), state: account.state })),
        query,
        back: listUrl(query)
      })
    }
    let report: BulkReport
    if (action === 'addToGroup') {
      try {
        const { group, results } = await app.services.groups.addMembersById(Number(request.body.groupId), ids, actor)
        report = {
          title: `Add to ${group.name}`,
          items: results.map(({ id, account, result }) => ({ id, name: account === null ? '' : displayName(account), email: account?.email ?? '', done: result === 'added', reason: result === 'added' ? null : result }))
        }
      } catch (err) {
        if (err instanceof DomainError && err.statusCode < 500) return await again({ groupId: err.message })
        throw err
      }
    } else {
      const outcomes = await accounts.changeMany(action, ids, actor)
      report = {
        title: BULK_TITLES[action],
        items: outcomes.map(({ id, account, done, reason }) => ({ id, name: account === null ? '' : displayName(account), email: account?.email ?? '', done, reason }))
      }
    }
    request.session.bulkResult = report
    return await reply.code(303).redirect(listUrl(query, '/admin/developers/bulk'))
  })

  app.get<{ Querystring: ListQuery }>('/bulk', { schema: querySchema({ ...filterProperties, ...pageProperty }) }, async (request, reply) => {
    const report = request.session.bulkResult
    if (report === undefined) return await reply.code(303).redirect(listUrl(request.query))
    delete request.session.bulkResult
    const done = report.items.filter((item) => item.done).length
    return await reply.page('publisher/developers/bulk-result', { title: `${report.title}: ${done} of ${report.items.length} done`, report, done, back: listUrl(request.query) })
  })
}
