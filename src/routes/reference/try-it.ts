import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { requireAccount } from '../../plugins/auth'
import { Invalid, TooManyRequests } from '../../services/kernel/errors'
import { createRateLimiter } from '../../services/kernel/rate-limiter'
import type { OperationView, ReferenceOverview } from '../../services/catalog/reference/draw'
import { buildTryRequest, TRY_BODY_MAX, type TryForm } from '../../services/catalog/reference/try-request'
import { showFormErrors } from '../shared/forms'
import type { ReferenceContext } from './pages'
import { signedIn } from '../../http/request-account'

/** Where "Try it" sends: the developer's subscriptions covering the API, and the API's path inside this server's gateway. */
export interface TryTarget {
  subscriptions: () => Promise<Array<{ id: number, displayName: string, productName: string, primaryKey: string }>>
  /** The API's path on the gateway inside this server, such as /gateway/petstore. */
  gatewayPath: string
}

interface TryRouteOptions {
  load: (request: FastifyRequest, key: string) => Promise<{ context: ReferenceContext, overview: ReferenceOverview, operation: OperationView, target: TryTarget }>
  operationPage: (request: FastifyRequest, context: ReferenceContext, overview: ReferenceOverview, operation: OperationView, chosen: string | undefined, data?: Record<string, unknown>) => Promise<Record<string, unknown>>
}

// At most this much of an answer is shown.
const SHOWN_MAX = 256 * 1024

const tryForm = {
  body: Type.Object({
    _csrf: Type.Optional(Type.String({ maxLength: 200 })),
    subscription: Type.Optional(Type.String({ maxLength: 20 })),
    contentType: Type.Optional(Type.String({ maxLength: 200 })),
    body: Type.Optional(Type.String({ maxLength: TRY_BODY_MAX }))
  }, { additionalProperties: false, patternProperties: { '^param\\.(path|query|header|cookie)\\.': Type.String({ maxLength: 4000 }) } })
}

/** The answer's body as shown: JSON indented, at most SHOWN_MAX, and whether it was cut. */
function shownBody (body: string, contentType: string): { text: string, cut: boolean } {
  if (body.length > SHOWN_MAX) return { text: body.slice(0, SHOWN_MAX), cut: true }
  if (/json/i.test(contentType)) {
    try {
      return { text: JSON.stringify(JSON.parse(body), null, 2), cut: false }
    } catch {}
  }
  return { text: body, cut: false }
}

const masked = (key: string): string => `••••••••${key.slice(-4)}`

/**
 * POST …/operations/:key/try: one request through the gateway, to this API only, with the chosen
 * subscription's primary key. The URL is the API's gateway path and the operation's path with the
 * form's values encoded into it: nothing from the form chooses a host, a scheme or a URL. It goes
 * through the gateway like any call (limits, quota, usage), inside this server.
 */
export default async function tryRoutes (app: FastifyInstance, options: TryRouteOptions): Promise<void> {
  const limiter = createRateLimiter()
  const limit = { calls: app.config.tryPerMinute, periodMs: 60_000 }

  app.post<{ Params: { key: string }, Body: TryForm }>('/operations/:key/try', {
    onRequest: requireAccount,
    bodyLimit: TRY_BODY_MAX * 3 + 256 * 1024,
    schema: { params: Type.Object({ key: Type.String({ maxLength: 2300 }) }, { additionalProperties: true }), ...tryForm }
  }, async (request, reply) => {
    const account = signedIn(request)
    const wait = limiter.take(account.id, limit, Date.now())
    if (wait > 0) throw new TooManyRequests(`You have tried ${limit.calls} calls this minute, the most "Try it" sends. Try again in ${Math.ceil(wait / 1000)} seconds.`, Math.ceil(wait / 1000))
    const { context, overview, operation, target } = await options.load(request, request.params.key)
    const form = request.body
    const { _csrf: _, ...values } = form
    try {
      const subscription = (await target.subscriptions()).find((s) => String(s.id) === form.subscription)
      if (subscription === undefined) throw new Invalid({ subscription: 'Choose one of your active subscriptions to a product with this API.' })
      const sent = buildTryRequest(operation, form)
      const headers: Record<string, string> = { [context.keyNames.header]: subscription.primaryKey }
      for (const [name, value] of sent.headers) headers[name] = value
      if (sent.contentType !== null) headers['content-type'] = sent.contentType
      const started = performance.now()
      const answer = await app.inject({
        method: sent.method as 'GET',
        url: `${target.gatewayPath}${sent.pathAndQuery}`,
        headers,
        ...(sent.body !== null ? { payload: sent.body } : {}),
        remoteAddress: request.ip
      })
      const ms = Math.round(performance.now() - started)
      const contentType = String(answer.headers['content-type'] ?? '')
      return await reply.page('reference/try-answer', {
        ...await options.operationPage(request, context, overview, operation, form.subscription),
        title: `Tried: ${operation.method} ${operation.path}`,
        sent: [
          `${sent.method} ${context.callBase}${sent.pathAndQuery}`,
          ...[[context.keyNames.header, masked(subscription.primaryKey)], ...sent.headers, ...(sent.contentType !== null ? [['Content-Type', sent.contentType]] : [])].map(([n, v]) => `${n}: ${v}`),
          ...(sent.body !== null ? ['', sent.body] : [])
        ].join('\n'),
        answer: {
          status: answer.statusCode,
          statusMessage: answer.statusMessage,
          headers: Object.entries(answer.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]),
          body: shownBody(answer.body, contentType),
          ms
        }
      })
    } catch (err) {
      return await showFormErrors(reply, err, 'reference/operation', await options.operationPage(request, context, overview, operation, form.subscription, { values }))
    }
  })
}
