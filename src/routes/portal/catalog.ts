import type { FastifyInstance, FastifyRequest } from 'fastify'
import { requireAccount, signedIn } from '../../plugins/auth'
import { DISPLAY_NAME_MAX } from '../../services/subscriptions/subscriptions'
import { LIVE_STATES } from '../../services/subscriptions/subscription-states'
import { checkbox, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, pageProperty, pagedTitle, parseId, querySchema } from '../shared/params'
import { referenceData } from '../shared/reference'
import { NotFound } from '../../services/errors'
import { buildReference, curlCommand, type ApiReference } from '../../services/catalog/openapi-reference'
import type { Api } from '../../services/catalog/apis'
import { API_PREFIX } from '../../api/plugin'

const MANAGEMENT_DESCRIPTION = 'Users, invitations, groups, products and subscriptions, for automation. Each call acts as the administrator who created its token, with the same rules, audit entries and emails as the publisher portal. Create a token on /admin/api-tokens.'

/** The management API's own document, as /api/v1/openapi.json serves it. */
async function managementDocument (app: FastifyInstance): Promise<Record<string, never>> {
  const res = await app.inject({ url: `${API_PREFIX}/openapi.json` })
  return JSON.parse(res.body)
}

const subscribeForm = formSchema({ displayName: DISPLAY_NAME_MAX * 4 }, { acceptTerms: checkbox() })

/** The developer portal's catalog: products and APIs this visitor may see, and subscribing. */
export default async function catalogRoutes (app: FastifyInstance): Promise<void> {
  const { products, apis, subscriptions } = app.services
  const viewer = (request: FastifyRequest) => request.account

  app.get('/products', async (request, reply) => {
    return await reply.page('portal/catalog/products', { title: 'Browse products', products: await products.listVisible(viewer(request)) })
  })

  async function productPage (request: FastifyRequest, id: number, data: Record<string, unknown> = {}) {
    const product = await products.findVisible(id, viewer(request))
    const mine = request.account === null ? [] : (await subscriptions.listForDeveloper(request.account.id)).filter((s) => s.productId === id && LIVE_STATES.includes(s.state))
    return { title: product.name, product, mine, values: { displayName: '' }, ...data }
  }

  app.get<{ Params: { id: string } }>('/products/:id', { schema: idParams }, async (request, reply) => {
    return await reply.page('portal/catalog/product', await productPage(request, parseId(request.params.id)))
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof subscribeForm> }>('/products/:id/subscribe', {
    onRequest: requireAccount, schema: { ...idParams, ...subscribeForm }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const subscription = await subscriptions.subscribe(signedIn(request), id, { displayName: request.body.displayName, acceptTerms: request.body.acceptTerms === 'on' }, request.ip)
      request.session.flash = subscription.state === 'active'
        ? `You are subscribed to ${subscription.productName}. Your keys are below.`
        : `Your request for ${subscription.productName} was sent. An administrator will approve it; we will email you.`
      return await reply.code(303).redirect('/subscriptions')
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/catalog/product', await productPage(request, id, { values: keptValues(request.body) }))
    }
  })

  app.get('/apis', async (request, reply) => {
    return await reply.page('portal/catalog/apis', { title: 'Browse APIs', apis: await products.listVisibleApis(viewer(request)), gatewayUrl: app.config.gatewayUrl, management: request.account?.isAdmin === true ? app.config.publicUrl : null })
  })

  // Portico's own management API, drawn from /api/v1/openapi.json like any imported API: for administrators.
  let management: ApiReference | null = null
  app.get<{ Querystring: { page?: number } }>('/apis/management', { schema: querySchema(pageProperty) }, async (request, reply) => {
    if (request.account?.isAdmin !== true) throw new NotFound('There is no API here.')
    management ??= buildReference(await managementDocument(app))
    const now = new Date(0).toISOString()
    const api: Api = { id: 0, name: 'Portico management API', path: API_PREFIX.slice(1), serviceUrl: app.config.publicUrl, description: MANAGEMENT_DESCRIPTION, hasDocument: true, format: 'json', createdAt: now, updatedAt: now }
    const data = referenceData(app.config.publicUrl, api, management, request.query.page, '/apis/management', (op) => curlCommand(`${app.config.publicUrl}${op.path}`, 'Authorization: Bearer <your token>', op))
    return await reply.page('portal/catalog/api', { title: data.part === null ? api.name : pagedTitle(api.name, data.part), products: [], management: true, ...data })
  })

  app.get<{ Params: { id: string }, Querystring: { page?: number } }>('/apis/:id', { schema: { ...idParams, ...querySchema(pageProperty) } }, async (request, reply) => {
    const { api, products: inProducts } = await products.findVisibleApi(parseId(request.params.id), viewer(request))
    const data = referenceData(app.config.gatewayUrl, api, await apis.findReference(api.id), request.query.page, `/apis/${api.id}`)
    return await reply.page('portal/catalog/api', { title: data.part === null ? api.name : pagedTitle(api.name, data.part), products: inProducts, ...data })
  })
}
