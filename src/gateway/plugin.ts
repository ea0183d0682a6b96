import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom from '@fastify/reply-from'
import type { Gateway, CallOwner } from '../services/gateway/gateway'
import { MESSAGES } from '../services/gateway/gateway'
import type { Outcome } from '../services/usage/usage-recorder'
import { KEY_HEADER, requestHeadersForBackend, responseHeadersFromBackend, safePath, splitGatewayUrl } from './forwarding'

export interface GatewayPluginOptions {
  gateway: Gateway
  /** The path the gateway is served under ("/gateway", or "" at a host's root). */
  basePath: string
  /** A backend that has not answered (headers, or the next part of the body) in this long: 504. */
  timeoutMs: number
}

interface CallState { owner: CallOwner, outcome: Outcome }

declare module 'fastify' {
  interface FastifyRequest {
    gatewayCall: CallState | null
  }
}

const NOBODY: CallOwner = { apiId: 0, productId: 0, subscriptionId: 0, developerId: 0 }

function sendError (reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify({ statusCode: status, message }))
}

/**
 * ANY GATEWAY_URL/<api path>/<rest>: checks the call (services/gateway) and forwards it with
 * @fastify/reply-from, bodies streamed both ways. Register it in a context of its own: no
 * session, CSRF or page plugin runs here, and no body is parsed.
 */
export default async function gatewayPlugin (app: FastifyInstance, options: GatewayPluginOptions): Promise<void> {
  const { gateway, basePath, timeoutMs } = options

  // Bodies pass through untouched, as streams, whatever their type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => { done(null, payload) })
  await app.register(replyFrom, {
    undici: { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 },
    // A backend's 503 or a dropped connection goes back to the caller as it is: never sent twice.
    retryMethods: [],
    disableRequestLogging: true,
    destroyAgent: true
  })
  app.decorateRequest('gatewayCall', null)

  app.addHook('onResponse', (request, reply, done) => {
    const call = request.gatewayCall ?? { owner: NOBODY, outcome: reply.statusCode === 404 ? 'no-api' : 'bad-path' }
    gateway.record(call.owner, reply.statusCode, call.outcome, reply.elapsedTime)
    done()
  })

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    if (status === 500) request.log.error({ err: error }, 'gateway call failed')
    if (request.gatewayCall === null) request.gatewayCall = { owner: NOBODY, outcome: 'bad-path' }
    return sendError(reply, status, status === 500 ? 'The gateway could not handle this call.' : 'The request could not be read.')
  })

  app.setNotFoundHandler(async (request, reply) => {
    request.gatewayCall = { owner: NOBODY, outcome: 'no-api' }
    return sendError(reply, 404, MESSAGES.noApi)
  })

  async function handle (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const url = splitGatewayUrl(request.raw.url ?? '', basePath)
    // Before anything is counted against a key: a call that could climb out of its API's backend path.
    if (!safePath(url.segments)) {
      request.gatewayCall = { owner: NOBODY, outcome: 'bad-path' }
      return sendError(reply, 400, 'The path may not contain "." or ".." segments or malformed escapes.')
    }
    const header = request.headers[KEY_HEADER]
    // An empty key is no key: the header first, then the query.
    const key = typeof header === 'string' && header !== '' ? header : url.queryKey === '' ? null : url.queryKey
    const admission = gateway.admit(url.segments, key)
    const decision = 'then' in admission ? await admission : admission
    if (!decision.admitted) {
      request.gatewayCall = { owner: decision.owner, outcome: decision.outcome }
      if (decision.retryAfter !== undefined) void reply.header('retry-after', String(decision.retryAfter))
      return sendError(reply, decision.status, decision.message)
    }
    const call: CallState = { owner: decision.owner, outcome: 'forwarded' }
    request.gatewayCall = call
    const target = decision.rest.length === 0 ? decision.api.serviceUrl : `${decision.api.serviceUrl}/${decision.rest.join('/')}`
    return reply.from(target, {
      timeout: timeoutMs,
      queryString: () => url.query,
      rewriteRequestHeaders: (req, headers) => requestHeadersForBackend(headers, { ip: req.ip, host: req.headers.host, protocol: req.protocol }),
      rewriteHeaders: (headers) => responseHeadersFromBackend(headers),
      onError: (errorReply, { error }) => {
        const timedOut = (error as { statusCode?: number }).statusCode === 504
        call.outcome = timedOut ? 'backend-timeout' : 'backend-unreachable'
        request.log.warn({ err: error, api: decision.api.path }, 'backend failed')
        sendError(errorReply as FastifyReply, timedOut ? 504 : 502, timedOut
          ? 'The API\'s backend did not answer in time.'
          : 'The API\'s backend could not be reached.')
      }
    })
  }

  app.route({ method: app.supportedMethods, url: '/*', exposeHeadRoute: false, handler: handle })
}
