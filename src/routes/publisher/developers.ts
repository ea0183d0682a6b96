import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DISPLAY_NAME_MAX } from '../../services/subscriptions/subscriptions'
import { actorOf, signedIn } from '../../plugins/auth'
import { SORTS, type DeveloperQuery, type DeveloperSort } from '../../services/accounts/developer-list'
import { displayName } from '../../services/accounts/account-store'
import { Type } from '@sinclair/typebox'
import { DomainError, Invalid } from '../../services/kernel/errors'
import { IMPORT_MAX_BYTES, IMPORT_MAX_ROWS, type ImportResult } from '../../services/transfer/csv-import'
import type { BulkReport } from '../../db/session-store'
import { sendCsv } from '../shared/csv'
import { formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { formId, idParams, pageProperty, pagedTitle, parseId, querySchema } from '../shared/params'
import { ACCOUNT_FIELDS } from '../shared/account-fields'

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

const importForm = formSchema({}, {
  file: Type.Optional(Type.Unsafe<string | Buffer>({ anyOf: [{ type: 'string', maxLength: IMPORT_MAX_BYTES }, { type: 'object' }] })),
  mode: Type.Optional(Type.String({ maxLength: 10 })),
  importId: Type.Optional(Type.String({ maxLength: 20 }))
})
/** Rows drawn on the preview page: invalid ones first. */
const PREVIEW_ROWS = 500
/** How long the run's request waits for a short import to end before showing its progress page instead. */
const IMPORT_WAIT_MS = 5_000

function importDone (result: ImportResult): string {
  if (result.alreadyRun) return 'This import was already run: nothing more was done.'
  return `Import done: ${result.created} ${result.created === 1 ? 'account' : 'accounts'} created (each was emailed a link to choose a password), ${result.invited} invited, ${result.skipped} skipped.`
}

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

// Add user: the account's fields and the groups ticked (ids; one ticked box arrives as a single value).
const newDeveloperForm = formSchema(ACCOUNT_FIELDS, { groups: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9]{1,15}$' }), { maxItems: 1000 })) })
const groupForm = formSchema({ groupId: 20 })
const subscribeForm = formSchema({ productId: 20, displayName: DISPLAY_NAME_MAX * 4 })

export default async function developerRoutes (app: FastifyInstance): Promise<void> {
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

  // CSV import: upload, a preview of every row, then a run in slices, followed on its own page.
  const importPage = (data: Record<string, unknown> = {}) => ({ title: 'Import developers from CSV', values: { mode: 'invite' }, maxRows: IMPORT_MAX_ROWS, ...data })

  app.get('/import', async (_request, reply) => await reply.page('publisher/developers/import', importPage()))

  app.post<{ Body: FormBody<typeof importForm> }>('/import', { schema: importForm, bodyLimit: IMPORT_MAX_BYTES + 64 * 1024, config: { multipartOptions: { limits: { files: 1, fileSize: IMPORT_MAX_BYTES + 1 } } } }, async (request, reply) => {
    const { file, mode, importId } = request.body
    const values = { mode: mode ?? 'invite' }
    try {
      if (importId !== undefined) {
        const { id, run } = await app.services.csvImport.start(formId(importId), actorOf(request))
        // A short import is done by the time the page would show: the list says what happened.
        // A longer one goes on beside the requests (or on another instance); its page shows how far it is.
        const result = run === null ? null : await Promise.race([run.catch(() => null), new Promise<undefined>((resolve) => setTimeout(() => { resolve(undefined) }, IMPORT_WAIT_MS).unref())])
        if (result === undefined || result === null) return await reply.code(303).redirect(`/admin/developers/import/${id}`)
        request.session.flash = importDone(result)
        return await reply.code(303).redirect('/admin/developers')
      }
      if (mode !== 'create' && mode !== 'invite') throw new Invalid({ mode: 'Choose whether to create active accounts or to invite them.' })
      const bytes = Buffer.isBuffer(file) ? file : Buffer.from(file ?? '', 'utf8')
      const preview = await app.services.csvImport.preview(bytes, 'uploaded file', mode, { ...actorOf(request), id: signedIn(request).id })
      const shown = [...preview.rows.filter((r) => r.outcome === 'invalid'), ...preview.rows.filter((r) => r.outcome !== 'invalid')].slice(0, PREVIEW_ROWS)
      return await reply.page('publisher/developers/import-preview', { title: 'Check the import', preview, shown, previewRows: PREVIEW_ROWS })
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/import', importPage({ values }))
    }
  })

  app.get<{ Params: { id: string } }>('/import/:id', { schema: idParams }, async (request, reply) => {
    const progress = await app.services.csvImport.progress(parseId(request.params.id), actorOf(request))
    return await reply.page('publisher/developers/import-progress', { title: progress.status === 'done' ? 'Import done' : 'Import in progress', progress, summary: importDone({ ...progress, alreadyRun: false }) })
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
      const chosen = await app.db('developers').whereIn('id', ids).orderBy('name_normalized').select('id', 'email', 'first_name', 'last_name', 'state')
      return await reply.page('publisher/developers/bulk-delete', {
        title: `Delete ${chosen.length} ${chosen.length === 1 ? 'developer' : 'developers'}?`,
        chosen: chosen.map((row) => ({ id: row.id, email: row.email, name: `${row.first_name} ${row.last_name}`.trim(), state: row.state })),
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

  async function showNewForm (data: Record<string, unknown>) {
    return { title: 'Add user', groups: await app.services.groups.listSummaries(), ...data }
  }

  app.get('/new', async (_request, reply) => {
    return await reply.page('publisher/developers/new', await showNewForm({ values: { groups: [] } }))
  })

  app.post<{ Body: FormBody<typeof newDeveloperForm> }>('/', { schema: newDeveloperForm }, async (request, reply) => {
    const groupIds = (request.body.groups ?? []).map(Number)
    try {
      const account = await accounts.createAccount(request.body, groupIds, actorOf(request))
      request.session.flash = `${displayName(account)} was added and is active.`
      return await reply.code(303).redirect(`/admin/developers/${account.id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/new', await showNewForm({ values: keptValues(request.body, 'password') }))
    }
  })

  /** The details page: the account, its groups, and the groups it could join. */
  async function detailsPage (id: number, data: Record<string, unknown> = {}) {
    const details = await accounts.getDeveloper(id)
    const joinable = await app.services.groups.joinableGroups(details.groups)
    const subscriptions = await app.services.subscriptions.listForDeveloper(id)
    const products = await app.services.products.listProducts()
    return { title: `Developer: ${displayName(details.account)}`, ...details, joinable, subscriptions, products, displayName, ...data }
  }

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    return await reply.page('publisher/developers/show', await detailsPage(parseId(request.params.id)))
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof groupForm> }>('/:id/groups', {
    schema: { ...idParams, ...groupForm }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const { group, result } = await app.services.groups.addMemberById(parseId(request.body.groupId), id, actorOf(request))
      request.session.flash = result === 'added' ? `Added to ${group.name}.` : `Not added to ${group.name}: ${result}.`
      return await reply.code(303).redirect(`/admin/developers/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id))
    }
  })

  app.post<{ Params: { id: string, groupId: string } }>('/:id/groups/:groupId/remove', {
    schema: { params: { type: 'object', properties: { id: { type: 'string', maxLength: 40 }, groupId: { type: 'string', maxLength: 40 } }, required: ['id', 'groupId'] }, ...formSchema({}) }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const { group } = await app.services.groups.removeMember(parseId(request.params.groupId), id, actorOf(request))
      request.session.flash = `Removed from ${group.name}.`
      return await reply.code(303).redirect(`/admin/developers/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id))
    }
  })

  // Subscribe the developer to a product on their behalf: active at once, the developer is mailed.
  app.post<{ Params: { id: string }, Body: FormBody<typeof subscribeForm> }>('/:id/subscriptions', {
    schema: { ...idParams, ...subscribeForm }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const subscription = await app.services.subscriptions.subscribeOnBehalf(id, { productId: formId(request.body.productId), displayName: request.body.displayName }, actorOf(request))
      request.session.flash = `Subscribed to ${subscription.productName} as ${subscription.displayName}. The developer was emailed.`
      return await reply.code(303).redirect(`/admin/developers/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id, { values: keptValues(request.body) }))
    }
  })

  app.get<{ Params: { id: string } }>('/:id/delete', { schema: idParams }, async (request, reply) => {
    const details = await accounts.getDeveloper(parseId(request.params.id))
    return await reply.page('publisher/developers/delete', { title: `Delete ${displayName(details.account)}?`, ...details, displayName })
  })

  /** Block, activate, delete: a 303 back with what happened, or the developer's page saying why not. */
  async function changeState (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, change: typeof accounts.blockAccount, done: string, then: (id: number) => string): Promise<FastifyReply> {
    const id = parseId(request.params.id)
    try {
      const account = await change(id, actorOf(request))
      request.session.flash = `${displayName(account)} ${done}`
      return await reply.code(303).redirect(then(id))
    } catch (err) {
      // Refused (their own account, the last administrator): the developer's page again, saying why.
      return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id))
    }
  }

  const stateChange = { schema: { ...idParams, ...formSchema({}) } }

  app.post<{ Params: { id: string } }>('/:id/block', stateChange, async (request, reply) =>
    await changeState(request, reply, accounts.blockAccount, 'is blocked. Their sessions have ended.', (id) => `/admin/developers/${id}`))

  app.post<{ Params: { id: string } }>('/:id/activate', stateChange, async (request, reply) =>
    await changeState(request, reply, accounts.activateAccount, 'is active again.', (id) => `/admin/developers/${id}`))

  app.post<{ Params: { id: string } }>('/:id/delete', stateChange, async (request, reply) =>
    await changeState(request, reply, accounts.deleteAccount, 'was deleted.', () => '/admin/developers'))
}
