import type { FastifyInstance } from 'fastify'
import { requireAccount } from '../../plugins/auth'
import { DISPLAY_NAME_MAX } from '../../services/subscriptions/subscriptions'
import { formSchema, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, parseId } from '../shared/params'
import { actorOf, signedIn } from '../../http/request-account'
import { OUTCOME_LABELS, rangeSchema, sendUsageCsv, usageCharts, usageRange, type RangeQuery } from '../shared/usage'
import type { FastifyReply } from 'fastify'
import { keyRegenerationRoutes } from '../shared/key-regeneration'

const renameForm = formSchema({ displayName: DISPLAY_NAME_MAX * 4 })

/** The developer's subscriptions: keys behind a show control, renewal, rename, cancel. */
export default async function subscriptionRoutes (app: FastifyInstance): Promise<void> {
  const { subscriptions } = app.services
  const guarded = { onRequest: requireAccount }

  async function listPage (accountId: number, data: Record<string, unknown> = {}) {
    const own = await subscriptions.listOwn(accountId)
    const quotaUse = await app.services.usage.quotaUse(own.filter((s) => s.state === 'active' || s.state === 'suspended').map((s) => s.id))
    return { title: 'Your subscriptions', subscriptions: own, quotaUse, gatewayUrl: app.config.gatewayUrl, ...data }
  }

  app.get('/subscriptions', guarded, async (request, reply) => await reply.page('portal/subscriptions/list', await listPage(signedIn(request).id)))

  keyRegenerationRoutes(app, {
    base: '/subscriptions',
    onRequest: requireAccount,
    find: async (request, id) => await subscriptions.findManaged(signedIn(request).id, id),
    ownerId: (request) => signedIn(request).id,
    back: (subscription) => `/subscriptions#subscription-${subscription.id}`,
    done: (subscription, slot) => `A new ${slot} key was made for ${subscription.displayName}. The old one no longer works.`
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof renameForm> }>('/subscriptions/:id/rename', { ...guarded, schema: { ...idParams, ...renameForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const subscription = await subscriptions.rename(signedIn(request).id, id, request.body.displayName, actorOf(request))
      request.session.flash = `The subscription is now called ${subscription.displayName}.`
      return await reply.code(303).redirect(`/subscriptions#subscription-${id}`)
    } catch (err) {
      // The list has a rename form per subscription: the error goes beside this one's field.
      return await showFormErrors(reply, err, 'portal/subscriptions/list', await listPage(signedIn(request).id, {
        renameId: id, values: { displayName: request.body.displayName }, errorLinks: { displayName: `displayName-${id}` }
      }))
    }
  })

  /** The developer's own usage of one subscription (404 for another's): by API and operation, never by who. */
  async function usageOf (accountId: number, id: number, raw: RangeQuery) {
    const subscription = await subscriptions.findOwn(accountId, id)
    const { from, to, errors } = usageRange(raw)
    const valid = Object.keys(errors).length === 0
    const report = valid ? await app.services.usage.report({ from, to, subscription: subscription.id }, { by: ['apis', 'operations'] }) : null
    return { subscription, from, to, errors, report }
  }

  async function usagePage (reply: FastifyReply, { subscription, from, to, errors, report }: Awaited<ReturnType<typeof usageOf>>): Promise<FastifyReply> {
    return await reply.page('portal/subscriptions/usage', {
      title: `Usage: ${subscription.displayName}`,
      subscription,
      values: { from, to },
      errors,
      report,
      charts: report === null ? null : usageCharts(report, from, to),
      outcomes: OUTCOME_LABELS,
      csvQuery: new URLSearchParams({ from, to }).toString()
    }, report === null ? 400 : 200)
  }

  app.get<{ Params: { id: string }, Querystring: RangeQuery }>('/subscriptions/:id/usage', { ...guarded, schema: { ...idParams, ...rangeSchema } }, async (request, reply) =>
    await usagePage(reply, await usageOf(signedIn(request).id, parseId(request.params.id), request.query)))

  app.get<{ Params: { id: string }, Querystring: RangeQuery }>('/subscriptions/:id/usage.csv', { ...guarded, schema: { ...idParams, ...rangeSchema } }, async (request, reply) => {
    const shown = await usageOf(signedIn(request).id, parseId(request.params.id), request.query)
    if (shown.report === null) return await usagePage(reply, shown)
    return await sendUsageCsv(reply, `portico-usage-${shown.subscription.id}`, shown.report, shown.from, shown.to)
  })

  app.get<{ Params: { id: string } }>('/subscriptions/:id/cancel', { ...guarded, schema: idParams }, async (request, reply) => {
    const subscription = await subscriptions.findManaged(signedIn(request).id, parseId(request.params.id))
    return await reply.page('portal/subscriptions/cancel', { title: `Cancel ${subscription.displayName}?`, subscription })
  })

  app.post<{ Params: { id: string } }>('/subscriptions/:id/cancel', { ...guarded, schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const subscription = await subscriptions.cancelOwn(signedIn(request).id, parseId(request.params.id), actorOf(request))
    request.session.flash = `${subscription.displayName} was cancelled. Its keys no longer work.`
    return await reply.code(303).redirect('/subscriptions')
  })
}
