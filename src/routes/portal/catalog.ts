import type { FastifyInstance, FastifyRequest } from 'fastify'
import { requireAccount } from '../../plugins/auth'
import { DISPLAY_NAME_MAX } from '../../services/subscriptions/subscriptions'
import { LIVE_STATES } from '../../services/subscriptions/subscription-states'
import { checkbox, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, parseId, querySchema } from '../shared/params'
import { Type } from '@sinclair/typebox'
import { NotFound } from '../../services/kernel/errors'
import { memorySource } from '../../services/catalog/reference/reference-store'
import { gatewayPaths } from '../../config'
import referencePages, { apiReferenceContext, type ReferenceContext } from '../reference/pages'
import { signedIn } from '../../http/request-account'
import { API_PREFIX } from '../../http/mounts'

const MANAGEMENT_DESCRIPTION = 'Users, invitations, groups, products and subscriptions, for automation. Each call acts as the administrator who created its token, with the same rules, audit entries and emails as the publisher portal. Create a token on /admin/api-tokens.'

// owner: "me", or "org:<id>" for an organisation the developer owns (absent: me).
const subscribeForm = formSchema({ displayName: DISPLAY_NAME_MAX * 4 }, { acceptTerms: checkbox(), owner: Type.Optional(Type.String({ maxLength: 30 })) })

/** The developer portal's catalog: products and APIs this visitor may see, and subscribing. */
export default async function catalogRoutes (app: FastifyInstance): Promise<void> {
  const { products, apis, subscriptions } = app.services
  const viewer = (request: FastifyRequest) => request.account

  app.get('/products', async (request, reply) => {
    return await reply.page('portal/catalog/products', { title: 'Browse products', products: await products.listVisible(viewer(request)) })
  })

  async function productPage (request: FastifyRequest, id: number, data: Record<string, unknown> = {}) {
    const product = await products.findVisible(id, viewer(request))
    const mine = request.account === null ? [] : (await subscriptions.listVisible(request.account.id)).filter((s) => s.productId === id && LIVE_STATES.includes(s.state))
    // The organisations this developer owns: the subscription may be theirs instead.
    const owned = request.account === null ? [] : await app.services.organisations.ownedBy(request.account.id)
    return { title: product.name, product, mine, owned, values: { displayName: '', owner: 'me' }, ...data }
  }

  app.get<{ Params: { id: string } }>('/products/:id', { schema: idParams }, async (request, reply) => {
    return await reply.page('portal/catalog/product', await productPage(request, parseId(request.params.id)))
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof subscribeForm> }>('/products/:id/subscribe', {
    onRequest: requireAccount, schema: { ...idParams, ...subscribeForm }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const subscription = await subscriptions.subscribe(signedIn(request), id, { displayName: request.body.displayName, acceptTerms: request.body.acceptTerms === 'on', owner: request.body.owner }, request.ip)
      request.session.flash = subscription.state === 'active'
        ? `You are subscribed to ${subscription.productName}. Your keys are below.`
        : `Your request for ${subscription.productName} was sent. An administrator will approve it; we will email you.`
      return await reply.code(303).redirect('/subscriptions')
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/catalog/product', await productPage(request, id, { values: keptValues(request.body) }))
    }
  })

  app.get<{ Querystring: { q?: string } }>('/apis', { schema: querySchema({ q: { type: 'string', maxLength: 200 } }) }, async (request, reply) => {
    const q = (request.query.q ?? '').trim()
    return await reply.page('portal/catalog/apis', {
      title: q === '' ? 'Browse APIs' : `APIs matching “${q}”`,
      q,
      apis: await apis.catalog(await products.listVisibleApis(viewer(request)), q),
      gatewayUrl: app.config.gatewayUrl,
      management: request.account?.isAdmin === true ? app.config.publicUrl : null
    })
  })

  // Portico's own management API, drawn from /api/v1/openapi.json like any imported API: for administrators.
  let management: Promise<ReferenceContext['source']> | null = null
  const managementSource = async (): Promise<ReferenceContext['source']> => {
    management ??= app.inject({ url: `${API_PREFIX}/openapi.json` })
      .then(async (res) => await app.services.documentWorkers.prepare(res.body))
      .then(memorySource, (err: unknown) => { management = null; throw err })
    return await management
  }
  await app.register(referencePages, {
    prefix: '/apis/management',
    base: () => '/apis/management',
    load: async (request) => {
      if (request.account?.isAdmin !== true) throw new NotFound('There is no API here.')
      return {
        api: { id: 0, name: 'Portico management API', path: API_PREFIX.slice(1), description: MANAGEMENT_DESCRIPTION, hasDocument: true },
        source: await managementSource(),
        callBase: app.config.publicUrl,
        credential: () => ['Authorization', 'Bearer YOUR_API_TOKEN'],
        portalAuth: 'management-token',
        keyNames: { header: 'Authorization', query: '' },
        supplied: new Set(),
        products: [],
        crumbs: [{ href: '/apis', label: 'APIs' }],
        downloads: { imported: false, gateway: false, elsewhere: `${API_PREFIX}/openapi.json` },
        tryIt: null
      }
    }
  })

  await app.register(referencePages, {
    prefix: '/apis/:id',
    base: (request) => `/apis/${(request.params as { id: string }).id}`,
    load: async (request) => {
      const id = parseId((request.params as { id: string }).id)
      const { api, products: holding } = await products.findVisibleApi(id, viewer(request))
      const account = request.account
      return {
        ...apiReferenceContext(app, api),
        products: holding.map((p) => ({ id: p.id, name: p.name })),
        crumbs: [{ href: '/apis', label: 'APIs' }],
        tryIt: {
          subscriptions: async () => account === null ? [] : await subscriptions.callingSubscriptions(account.id, api.id),
          gatewayPath: `${gatewayPaths(app.config).portal}/${api.path}`
        }
      }
    }
  })
}
