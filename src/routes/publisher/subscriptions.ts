import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { SUBSCRIPTION_STATES } from '../../services/subscriptions/subscription-states'
import { ADMIN_ACTIONS, ADMIN_ACTION_NAMES, REASON_MAX, type AdminAction } from '../../services/subscriptions/subscriptions'
import { OUTCOME_LABELS } from '../shared/usage'
import { lastDays } from '../../services/usage/usage-reports'
import { formSchema, showFormErrors, type FormBody } from '../shared/forms'
import { filterId, idParams, pageProperty, pagedTitle, parseId, querySchema } from '../shared/params'
import { actorOf } from '../../http/request-account'
import { keyRegenerationRoutes } from '../shared/key-regeneration'

const listQuery = querySchema({
  state: { type: 'string', enum: ['', ...SUBSCRIPTION_STATES] },
  product: { type: 'string', maxLength: 20 },
  developer: { type: 'string', maxLength: 300 },
  organisation: { type: 'string', maxLength: 20 },
  ...pageProperty
})
interface ListQuery { state?: string, product?: string, developer?: string, organisation?: string, page?: number }
// The subscription's page shows its calls over this many days.
const USAGE_DAYS = 30
const rejectForm = formSchema({ reason: REASON_MAX * 4 })

const DONE: Record<AdminAction, string> = {
  approve: 'approved: the developer was emailed, and the keys work',
  reject: 'rejected: the developer was emailed the reason',
  suspend: 'suspended: its keys stop working until it is activated',
  activate: 'activated: its keys work again, and the developer was emailed',
  cancel: 'cancelled: its keys no longer work'
}

/** Every subscription: filters, details, and the administrator's state changes. */
export default async function subscriptionAdminRoutes (app: FastifyInstance): Promise<void> {
  const { subscriptions, products } = app.services

  app.get<{ Querystring: ListQuery }>('/', { schema: listQuery }, async (request, reply) => {
    const { page, ...raw } = request.query
    const product = filterId(raw.product)
    const organisation = filterId(raw.organisation)
    const filter = { state: raw.state === '' ? undefined : raw.state, product, developer: raw.developer, organisation }
    const result = await subscriptions.list(filter, page)
    const query = new URLSearchParams(Object.entries({
      state: filter.state ?? '', product: product === undefined ? '' : String(product), developer: raw.developer ?? '', organisation: organisation === undefined ? '' : String(organisation)
    }).filter(([, v]) => v !== ''))
    const organisations = await app.services.organisations.names()
    const owner = organisations.find((o) => o.id === organisation)
    return await reply.page('publisher/subscriptions/list', {
      title: pagedTitle(owner === undefined ? 'Subscriptions' : `Subscriptions of ${owner.name}`, result),
      result,
      filter: { ...filter, product: product === undefined ? '' : String(product), organisation: organisation === undefined ? '' : String(organisation) },
      organisations,
      states: SUBSCRIPTION_STATES,
      products: await products.listProducts(),
      pageUrl: (n: number) => `/admin/subscriptions?${new URLSearchParams([...query.entries(), ['page', String(n)]]).toString()}`
    })
  })

  async function detailsPage (id: number, data: Record<string, unknown> = {}) {
    const subscription = await subscriptions.findSubscription(id)
    const allowed = ADMIN_ACTION_NAMES.filter((a) => (ADMIN_ACTIONS[a].from as readonly string[]).includes(subscription.state))
    const usage = await app.services.usage.report({ ...lastDays(USAGE_DAYS, Date.now()), subscription: id }, { by: [] })
    const quota = (await app.services.usage.quotaUse([id])).get(id) ?? null
    return { title: `Subscription: ${subscription.displayName}`, subscription, allowed, usage, quota, usageDays: USAGE_DAYS, outcomes: OUTCOME_LABELS, ...data }
  }

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    return await reply.page('publisher/subscriptions/show', await detailsPage(parseId(request.params.id)))
  })

  // Support: the keys shown on the page (each showing audited), and renewed for the owner (who is mailed).
  app.post<{ Params: { id: string } }>('/:id/keys', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const shown = await subscriptions.showKeys(id, actorOf(request))
      return await reply.page('publisher/subscriptions/show', await detailsPage(id, { keys: shown.keys }))
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/subscriptions/show', await detailsPage(id))
    }
  })

  keyRegenerationRoutes(app, {
    base: '/admin/subscriptions',
    routeBase: '',
    find: async (_request, id) => await subscriptions.findSubscription(id),
    ownerId: () => null,
    back: (subscription) => `/admin/subscriptions/${subscription.id}`,
    done: (subscription, slot) => `A new ${slot} key was made for ${subscription.displayName}${subscription.owner === null ? '' : `; ${subscription.owner.email} was emailed`}. The old one no longer works.`
  })

  // Cancelling ends the keys for good: a page to confirm it first.
  app.get<{ Params: { id: string } }>('/:id/cancel', { schema: idParams }, async (request, reply) => {
    const subscription = await subscriptions.findSubscription(parseId(request.params.id))
    return await reply.page('publisher/subscriptions/cancel', { title: `Cancel the subscription ${subscription.displayName}?`, subscription })
  })

  /** Approve, reject, suspend, activate, cancel: a 303 back with what happened, or the page saying why not. */
  function stateChange (action: AdminAction) {
    return async (request: FastifyRequest<{ Params: { id: string }, Body: Partial<FormBody<typeof rejectForm>> }>, reply: FastifyReply): Promise<FastifyReply> => {
      const id = parseId(request.params.id)
      try {
        const subscription = await subscriptions.changeState(id, action, actorOf(request), request.body.reason)
        request.session.flash = `${subscription.displayName} was ${DONE[action]}.`
        return await reply.code(303).redirect(`/admin/subscriptions/${id}`)
      } catch (err) {
        return await showFormErrors(reply, err, 'publisher/subscriptions/show', await detailsPage(id, { values: { reason: request.body.reason } }))
      }
    }
  }
  // Only reject takes a field (the reason); the others take none.
  const noFields = { schema: { ...idParams, ...formSchema({}) } }
  app.post('/:id/approve', noFields, stateChange('approve'))
  app.post('/:id/reject', { schema: { ...idParams, ...rejectForm } }, stateChange('reject'))
  app.post('/:id/suspend', noFields, stateChange('suspend'))
  app.post('/:id/activate', noFields, stateChange('activate'))
  app.post('/:id/cancel', noFields, stateChange('cancel'))
}
