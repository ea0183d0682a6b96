import type { FastifyInstance, FastifyRequest } from 'fastify'
import { requireAccount, signedIn } from '../../plugins/auth'
import { DISPLAY_NAME_MAX } from '../../services/subscriptions/subscriptions'
import { LIVE_STATES } from '../../services/subscriptions/subscription-states'
import { checkbox, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, pageProperty, pagedTitle, parseId, querySchema } from '../shared/params'
import { referenceData } from '../shared/reference'

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
    return await reply.page('portal/catalog/apis', { title: 'Browse APIs', apis: await products.listVisibleApis(viewer(request)), gatewayUrl: app.config.gatewayUrl })
  })

  app.get<{ Params: { id: string }, Querystring: { page?: number } }>('/apis/:id', { schema: { ...idParams, ...querySchema(pageProperty) } }, async (request, reply) => {
    const { api, products: inProducts } = await products.findVisibleApi(parseId(request.params.id), viewer(request))
    const data = referenceData(app.config.gatewayUrl, api, await apis.findReference(api.id), request.query.page, `/apis/${api.id}`)
    return await reply.page('portal/catalog/api', { title: data.part === null ? api.name : pagedTitle(api.name, data.part), products: inProducts, ...data })
  })
}
