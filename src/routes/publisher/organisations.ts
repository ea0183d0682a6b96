import type { FastifyInstance } from 'fastify'
import { ORGANISATION_DESCRIPTION_MAX, ORGANISATION_NAME_MAX } from '../../services/organisations/organisations'
import { DISPLAY_NAME_MAX } from '../../services/subscriptions/subscriptions'
import { EMAIL_MAX_LENGTH } from '../../services/accounts/account-rules'
import { displayName } from '../../services/accounts/account-store'
import { actorOf } from '../../http/request-account'
import { Invalid } from '../../services/kernel/errors'
import { formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { formId, idParams, pageProperty, pagedTitle, parseId, querySchema } from '../shared/params'

const createForm = formSchema({ name: ORGANISATION_NAME_MAX * 4, description: ORGANISATION_DESCRIPTION_MAX * 4, ownerEmail: EMAIL_MAX_LENGTH * 4 })
const editForm = formSchema({ name: ORGANISATION_NAME_MAX * 4, description: ORGANISATION_DESCRIPTION_MAX * 4 })
const subscribeForm = formSchema({ productId: 20, displayName: DISPLAY_NAME_MAX * 4 })
const roleForm = formSchema({ role: 20 })
const memberParams = { params: { type: 'object', properties: { id: { type: 'string', maxLength: 40 }, accountId: { type: 'string', maxLength: 40 } }, required: ['id', 'accountId'] } }

/** /admin/organisations: search, create, one organisation (members, subscriptions, block, activate, delete, subscribe on its behalf). */
export default async function organisationAdminRoutes (app: FastifyInstance): Promise<void> {
  const { organisations, subscriptions, products } = app.services

  app.get<{ Querystring: { q?: string, page?: number } }>('/', { schema: querySchema({ q: { type: 'string', maxLength: 200 }, ...pageProperty }) }, async (request, reply) => {
    const q = (request.query.q ?? '').trim()
    const result = await organisations.list({ q, page: request.query.page })
    return await reply.page('publisher/organisations/list', {
      title: pagedTitle('Organisations', result), result, q,
      pageUrl: (n: number) => `/admin/organisations?${new URLSearchParams(q === '' ? { page: String(n) } : { q, page: String(n) }).toString()}`
    })
  })

  app.get('/new', async (_request, reply) => await reply.page('publisher/organisations/new', { title: 'Add an organisation' }))

  app.post<{ Body: FormBody<typeof createForm> }>('/', { schema: createForm }, async (request, reply) => {
    try {
      const organisation = await organisations.createByAdmin(request.body, request.body.ownerEmail, actorOf(request))
      request.session.flash = `${organisation.name} was created.`
      return await reply.code(303).redirect(`/admin/organisations/${organisation.id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/organisations/new', { title: 'Add an organisation', values: keptValues(request.body) })
    }
  })

  async function detailsPage (id: number, data: Record<string, unknown> = {}) {
    const details = await organisations.getForAdmin(id)
    return {
      title: `Organisation: ${details.organisation.name}`, ...details, displayName,
      subscriptions: await subscriptions.listForOrganisation(id),
      products: (await products.listProducts()).filter((p) => p.subscriptionRequired),
      values: { name: details.organisation.name, description: details.organisation.description, productId: '', displayName: '' },
      ...data
    }
  }

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => await reply.page('publisher/organisations/show', await detailsPage(parseId(request.params.id))))

  app.post<{ Params: { id: string }, Body: FormBody<typeof editForm> }>('/:id', { schema: { ...idParams, ...editForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const organisation = await organisations.edit(id, request.body, actorOf(request))
      request.session.flash = `${organisation.name} was saved.`
      return await reply.code(303).redirect(`/admin/organisations/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/organisations/show', await detailsPage(id, { values: { ...keptValues(request.body), productId: '', displayName: '' } }))
    }
  })

  for (const [action, state, done] of [['block', 'blocked', 'blocked: its keys stop working at once'], ['activate', 'active', 'active again: its keys work']] as const) {
    app.post<{ Params: { id: string } }>(`/:id/${action}`, { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
      const organisation = await organisations.setState(parseId(request.params.id), state, actorOf(request))
      request.session.flash = `${organisation.name} is ${done}.`
      return await reply.code(303).redirect(`/admin/organisations/${organisation.id}`)
    })
  }

  app.get<{ Params: { id: string } }>('/:id/delete', { schema: idParams }, async (request, reply) => {
    const details = await detailsPage(parseId(request.params.id))
    return await reply.page('publisher/organisations/delete', { ...details, title: `Delete ${details.organisation.name}?` })
  })

  app.post<{ Params: { id: string } }>('/:id/delete', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const organisation = await organisations.deleteOrganisation(parseId(request.params.id), actorOf(request))
    request.session.flash = `${organisation.name} was deleted and its subscriptions cancelled.`
    return await reply.code(303).redirect('/admin/organisations')
  })

  app.post<{ Params: { id: string, accountId: string } }>('/:id/members/:accountId/remove', { schema: { ...memberParams, ...formSchema({}) } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      await organisations.removeMember(id, null, parseId(request.params.accountId), actorOf(request))
      request.session.flash = 'The member was removed.'
      return await reply.code(303).redirect(`/admin/organisations/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/organisations/show', await detailsPage(id))
    }
  })

  app.post<{ Params: { id: string, accountId: string }, Body: FormBody<typeof roleForm> }>('/:id/members/:accountId/role', { schema: { ...memberParams, ...roleForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      await organisations.changeRole(id, null, parseId(request.params.accountId), request.body.role, actorOf(request))
      request.session.flash = request.body.role === 'owner' ? 'They are now an owner.' : 'They are now a member.'
      return await reply.code(303).redirect(`/admin/organisations/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/organisations/show', await detailsPage(id))
    }
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof subscribeForm> }>('/:id/subscriptions', { schema: { ...idParams, ...subscribeForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const productId = formId(request.body.productId)
      if (productId === 0) throw new Invalid({ productId: 'Choose a product.' })
      const subscription = await subscriptions.subscribeOrganisation(id, { productId, displayName: request.body.displayName }, actorOf(request))
      request.session.flash = `${subscription.displayName} was created for the organisation: its owners were emailed.`
      return await reply.code(303).redirect(`/admin/organisations/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/organisations/show', await detailsPage(id, { values: { ...keptValues(request.body), name: '', description: '' } }))
    }
  })
}
