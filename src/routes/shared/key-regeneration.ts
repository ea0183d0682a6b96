import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import { Type } from '@sinclair/typebox'
import { KEY_SLOTS, type KeySlot } from '../../services/subscriptions/key-store'
import type { Subscription } from '../../services/subscriptions/subscriptions'
import { actorOf } from '../../http/request-account'
import { formSchema, type FormBody } from './forms'
import { idParams, parseId, querySchema } from './params'

const slotQuery = querySchema({ key: { type: 'string', enum: KEY_SLOTS } })
// `confirm` comes only from the confirmation page's button: a post without it is sent to that page.
const regenerateForm = formSchema({}, { key: Type.Union(KEY_SLOTS.map((slot) => Type.Literal(slot))), confirm: Type.Optional(Type.Literal('yes')) })

export interface KeyRegeneration {
  /** Where the subscription's pages are: `/subscriptions` or `/admin/subscriptions`. */
  base: string
  /** The same, as the plugin registering these routes sees it (inside `/admin`: `/subscriptions`). */
  routeBase?: string
  onRequest?: onRequestHookHandler
  /** The subscription this visitor may renew a key of (404 otherwise). */
  find: (request: FastifyRequest, id: number) => Promise<Subscription>
  /** Whose key it is: the signed-in owner's id, or null for an administrator acting for the owner. */
  ownerId: (request: FastifyRequest) => number | null
  /** Where to go back to, and what the flash says after. */
  back: (subscription: Subscription) => string
  done: (subscription: Subscription, slot: KeySlot) => string
}

/**
 * Regenerating a key stops the old one at once, so it goes through a confirmation page (as
 * cancelling does): `GET <base>/:id/regenerate?key=…` asks, its form's POST renews.
 */
export function keyRegenerationRoutes (app: FastifyInstance, options: KeyRegeneration): void {
  const { base, find, back, done } = options
  const routeBase = options.routeBase ?? base
  const hooks = options.onRequest === undefined ? {} : { onRequest: options.onRequest }

  app.get<{ Params: { id: string }, Querystring: { key?: KeySlot } }>(`${routeBase}/:id/regenerate`, { ...hooks, schema: { ...idParams, ...slotQuery } }, async (request, reply) => {
    const subscription = await find(request, parseId(request.params.id))
    const slot = request.query.key ?? 'primary'
    return await reply.page('portal/subscriptions/regenerate', {
      title: `Regenerate the ${slot} key of ${subscription.displayName}?`,
      subscription,
      slot,
      action: `${base}/${subscription.id}/regenerate`,
      back: back(subscription),
      onBehalf: options.ownerId(request) === null
    })
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof regenerateForm> }>(`${routeBase}/:id/regenerate`, { ...hooks, schema: { ...idParams, ...regenerateForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    if (request.body.confirm !== 'yes') {
      await find(request, id)
      return await reply.code(303).redirect(`${base}/${id}/regenerate?key=${request.body.key}`)
    }
    const subscription = await app.services.subscriptions.regenerateKey(options.ownerId(request), id, request.body.key, actorOf(request))
    request.session.flash = done(subscription, request.body.key)
    return await reply.code(303).redirect(back(subscription))
  })
}
