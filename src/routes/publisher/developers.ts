import type { FastifyInstance } from 'fastify'
import { actorOf } from '../../plugins/auth'
import { listDevelopers, SORTS, type DeveloperQuery, type DeveloperSort } from '../../services/accounts/developer-list'
import { listGroupSummaries } from '../../services/groups/group-lookups'
import { displayName } from '../../services/accounts/account-store'
import { Refused } from '../../services/errors'
import type { NewAccountInput } from '../../services/accounts/account-rules'
import { formSchema, idParams, keptValues, parseId, querySchema, showFormErrors } from '../shared/forms'
import { ACCOUNT_FIELDS } from '../shared/account-fields'

interface ListQuery {
  q?: string
  state?: '' | 'active' | 'blocked'
  group?: string
  sort?: DeveloperSort
  page?: number
}

interface NewDeveloperBody extends NewAccountInput {
  groups?: string[]
}

const listSchema = querySchema({
  q: { type: 'string', maxLength: 200 },
  state: { type: 'string', enum: ['', 'active', 'blocked'] },
  group: { type: 'string', pattern: '^[0-9]{0,15}$' },
  sort: { type: 'string', enum: Object.keys(SORTS) },
  page: { type: 'integer', minimum: 1, maximum: 1000000 }
})

const groupsField = { groups: { type: 'array', items: { type: 'string', pattern: '^[0-9]{1,15}$' }, maxItems: 1000 } }

export default async function developerRoutes (app: FastifyInstance): Promise<void> {
  const { accounts } = app.services

  app.get<{ Querystring: ListQuery }>('/', { schema: listSchema }, async (request, reply) => {
    const { q, state, group, sort, page } = request.query
    const query: DeveloperQuery = {
      q,
      state: state === '' ? undefined : state,
      groupId: group === undefined || group === '' ? undefined : Number(group),
      sort,
      page
    }
    const [result, groups] = await Promise.all([listDevelopers(app.db, query), listGroupSummaries(app.db)])
    return await reply.page('publisher/developers/list', { title: 'Developers', result, groups, query: request.query, displayName })
  })

  async function showNewForm (data: Record<string, unknown>) {
    return { title: 'Add user', groups: await listGroupSummaries(app.db), ...data }
  }

  app.get('/new', async (_request, reply) => {
    return await reply.page('publisher/developers/new', await showNewForm({ values: { groups: [] } }))
  })

  app.post<{ Body: NewDeveloperBody }>('/', { schema: formSchema(ACCOUNT_FIELDS, groupsField) }, async (request, reply) => {
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
    const joinable = (await listGroupSummaries(app.db)).filter((g) => g.systemKey !== 'guests' && !details.groups.some((m) => m.id === g.id))
    return { title: displayName(details.account), ...details, joinable, displayName, ...data }
  }

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    return await reply.page('publisher/developers/show', await detailsPage(parseId(request.params.id)))
  })

  app.post<{ Params: { id: string }, Body: { groupId: string } }>('/:id/groups', {
    schema: { ...idParams, ...formSchema({ groupId: 20 }) }
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

  app.get<{ Params: { id: string } }>('/:id/delete', { schema: idParams }, async (request, reply) => {
    const details = await accounts.getDeveloper(parseId(request.params.id))
    return await reply.page('publisher/developers/delete', { title: `Delete ${displayName(details.account)}?`, ...details, displayName })
  })

  const actions = {
    block: { run: accounts.blockAccount, done: 'is blocked. Their sessions have ended.' },
    activate: { run: accounts.activateAccount, done: 'is active again.' },
    delete: { run: accounts.deleteAccount, done: 'was deleted.' }
  } as const

  for (const [name, action] of Object.entries(actions)) {
    app.post<{ Params: { id: string } }>(`/:id/${name}`, { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
      const id = parseId(request.params.id)
      try {
        if (id === request.account?.id) throw new Refused('You cannot block or delete your own account.')
        const account = await action.run(id, actorOf(request))
        request.session.flash = `${displayName(account)} ${action.done}`
        return await reply.code(303).redirect(name === 'delete' ? '/admin/developers' : `/admin/developers/${id}`)
      } catch (err) {
        // Refused (e.g. the last administrator): the developer's page again, saying why.
        return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id))
      }
    })
  }
}
