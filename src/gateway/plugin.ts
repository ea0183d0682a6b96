import type { IncomingMessage } from 'node:http'
import { Transform } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom from '@fastify/reply-from'
import type { Admission, Gateway, Caller, CallOwner, KeyOf } from '../services/gateway/gateway'
import type { FoundApi, GatewayApi } from '../services/gateway/key-cache'
import { MESSAGES } from '../services/gateway/gateway'
import type { Outcome } from '../services/usage/usage-recorder'
import type { BackendSlots } from './backend-slots'
import { requestHeadersForBackend, responseHeadersFromBackend, safePath, splitGatewayUrl, takeQueryParam, type GatewayUrl } from './forwarding'
import { isPreflight, originAllowed, preflightHeaders, varyOrigin } from './cors'

export interface GatewayPluginOptions {
  gateway: Gateway
  /** The path the gateway is served under ("/gateway", or "" at a host's root). */
  basePath: string
  /** A backend that has not answered (headers, or the next part of the body) in this long: 504. */
  timeoutMs: number
  /** A request body that sends nothing for this long: 408. */
  bodyIdleMs: number
  /** Calls in progress per backend, shared by every server of this process that forwards. */
  backendSlots: BackendSlots
  /** The connection pool's size per backend (as many as backendSlots lets through). */
  connectionsPerBackend: number
}

/**
 * What the gateway knows of a call: whose it is, how it ended, its operation in the API's document
 * ("GET /pets/{petId}", or ''), and what it holds until its answer is over (a slot of its
 * caller's concurrent calls, one of its backend's connections).
 */
interface CallState {
  owner: CallOwner
  outcome: Outcome
  operation: string
  caller: Caller | null
  /** The backend's origin, while the call holds one of its connections. */
  backend: string | null
  over: boolean
  /** When the gateway took the call (performance.now(), ms): its latency runs to the answer's end. */
  started: number
}

declare module 'fastify' {
  interface FastifyRequest {
    gatewayCall: CallState | null
  }
}

const NOBODY: CallOwner = { apiId: 0, productId: 0, subscriptionId: 0, developerId: 0 }

const BACKEND_ERRORS = {
  timeout: 'The API\'s backend did not answer in time.',
  unreachable: 'The API\'s backend could not be reached.',
  invalid: 'The API\'s backend answered in a way the gateway cannot pass on.',
  busy: 'The API\'s backend is busy: every connection to it is in use. Try again in a moment.',
  bodyTimeout: 'The request body stopped arriving, so the call was ended.',
  originRefused: 'This origin may not call this API from a browser.',
  noMockOperation: 'No operation of this API\'s document matches this method and path.'
}

function sendError (reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify({ statusCode: status, message }))
}

/**
 * The request body as the backend reads it, ended when the client sends nothing for `idleMs`:
 * a caller trickling a body cannot hold a backend's connection for ever. The client's stream is
 * left open, so the gateway can still answer it.
 */
function watchedBody (raw: IncomingMessage, idleMs: number, onIdle: () => void): Transform {
  const timer = setTimeout(() => {
    raw.unpipe(watched)
    onIdle()
    watched.destroy(new Error('request body idle'))
  }, idleMs)
  const watched = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      timer.refresh()
      callback(null, chunk)
    },
    flush (callback) {
      clearTimeout(timer)
      callback()
    }
  })
  watched.once('close', () => { clearTimeout(timer) })
  raw.once('close', () => { if (!raw.complete) watched.destroy(new Error('client went away')) })
  raw.pipe(watched)
  return watched
}

/** The gateway's own answer (a refusal, an error) carries the API's CORS headers, so a browser app can read it. */
function corsOnOwnAnswer (reply: FastifyReply, api: GatewayApi | null, origin: string | undefined): void {
  const cors = api?.policy.cors ?? null
  if (cors === null) return
  if (originAllowed(cors, origin)) void reply.header('access-control-allow-origin', origin)
  void reply.header('vary', varyOrigin(reply.getHeader('vary') as string | undefined))
}

/** Joins two raw queries ("a=1", "b=2" → "a=1&b=2"). */
function joinQuery (a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a}&${b}`
}

/** A step that had to wait: its failure is answered by the error handler, unless an answer is under way. */
function carryOn (reply: FastifyReply, step: Promise<void>): void {
  step.catch((err: unknown) => {
    if (!reply.sent) void reply.send(err instanceof Error ? err : new Error(String(err)))
  })
}

/**
 * ANY GATEWAY_URL/<api path>/<rest>: checks the call (services/gateway) and forwards it with
 * @fastify/reply-from, bodies streamed both ways. Register it in a context of its own: no
 * session, CSRF or page plugin runs here, and no body is parsed. Nothing a backend or a caller
 * sends can end the process: a call that goes wrong is answered on its own.
 */
export default async function gatewayPlugin (app: FastifyInstance, options: GatewayPluginOptions): Promise<void> {
  const { gateway, basePath, timeoutMs, bodyIdleMs, backendSlots } = options

  // Bodies pass through untouched, as streams, whatever their type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => { done(null, payload) })
  await app.register(replyFrom, {
    undici: { connections: options.connectionsPerBackend, pipelining: 1, keepAliveTimeout: 60_000 },
    // A backend's 503 or a dropped connection goes back to the caller as it is: never sent twice.
    retryMethods: [],
    disableRequestLogging: true,
    destroyAgent: true
  })
  app.decorateRequest('gatewayCall', null)

  /**
   * A call's state, and the one listener that ends it once its answer is over, sent or cut short:
   * what it held is released, and an answer sent is counted (usage, metrics). One listener on
   * the answer rather than an onResponse hook: without a hook (or a logger) fastify adds no
   * listeners of its own and runs no hook runner, on every call.
   */
  function track (request: FastifyRequest, reply: FastifyReply, outcome: Outcome): CallState {
    const call: CallState = { owner: NOBODY, outcome, operation: '', caller: null, backend: null, over: false, started: performance.now() }
    request.gatewayCall = call
    const res = reply.raw
    res.once('close', () => {
      call.over = true
      if (call.caller !== null) gateway.release(call.caller)
      if (call.backend !== null) backendSlots.release(call.backend)
      if (res.writableEnded || res.errored !== null) gateway.record(call.owner, reply.statusCode, call.outcome, performance.now() - call.started, call.operation)
    })
    return call
  }

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    if (status === 500) request.log.error({ err: error }, 'gateway call failed')
    if (request.gatewayCall === null) track(request, reply, 'bad-path')
    return sendError(reply, status, status === 500 ? 'The gateway could not handle this call.' : 'The request could not be read.')
  })

  app.setNotFoundHandler(async (request, reply) => {
    track(request, reply, 'no-api')
    return sendError(reply, 404, MESSAGES.noApi)
  })

  /**
   * A call's handler. The common path (catalog and key in memory, a backend connection free) runs
   * synchronously to `reply.from`, as a bare proxy's does; a step that must wait (a look-up, a
   * queue for the backend) carries on from its promise, whose failure goes to the error handler.
   * It never returns the reply: fastify would then wait on the answer's end (`reply.then`) for
   * every call.
   */
  function handle (request: FastifyRequest, reply: FastifyReply): void {
    const call = track(request, reply, 'bad-path')
    const url = splitGatewayUrl(request.raw.url ?? '', basePath)
    if (url === null) {
      sendError(reply, 400, 'The request target must be a path (or an absolute URL whose path is) under the gateway\'s address.')
      return
    }
    // Before anything is counted against a key: a call that could climb out of its API's backend path.
    if (!safePath(url.segments)) {
      sendError(reply, 400, 'The path may not contain "." or ".." segments or malformed escapes.')
      return
    }
    // A browser's preflight, for an API with a CORS policy: answered here, without a key, never forwarded.
    if (isPreflight(request.method, request.headers)) {
      const found = gateway.findApi(url.segments)
      if (found !== null && 'then' in found) {
        carryOn(reply, found.then((loaded) => { if (!preflight(request, reply, call, loaded)) admit(request, reply, call, url) }))
        return
      }
      if (preflight(request, reply, call, found)) return
    }
    admit(request, reply, call, url)
  }

  /** Answers a preflight for an API with a CORS policy; false when there is none (the call goes on as any other). */
  function preflight (request: FastifyRequest, reply: FastifyReply, call: CallState, found: FoundApi | null): boolean {
    const cors = found?.api.policy.cors ?? null
    if (found === null || cors === null) return false
    call.owner = { ...NOBODY, apiId: found.api.id }
    const origin = request.headers.origin
    if (!originAllowed(cors, origin)) {
      call.outcome = 'cors-refused'
      sendError(reply.header('vary', 'Origin'), 403, BACKEND_ERRORS.originRefused)
      return true
    }
    call.outcome = 'cors-preflight'
    void reply.code(204).headers(preflightHeaders(cors, origin)).send()
    return true
  }

  /** The key's checks, then the call's answer: a refusal, a mock answer, or the backend's. */
  function admit (request: FastifyRequest, reply: FastifyReply, call: CallState, url: GatewayUrl): void {
    // The key: the API's header first, then its query parameter (an empty key is no key); the
    // parameter never reaches the backend.
    let query = url.query
    const keyOf: KeyOf = (api) => {
      const taken = takeQueryParam(url.query, api.policy.keyQuery)
      query = taken.rest
      const header = request.headers[api.policy.keyHeader]
      return typeof header === 'string' && header !== '' ? header : taken.value === '' ? null : taken.value
    }
    const admission = gateway.admit(url.segments, keyOf, request.ip)
    if ('then' in admission) carryOn(reply, admission.then((decision) => { answer(request, reply, call, decision, query) }))
    else answer(request, reply, call, admission, query)
  }

  function answer (request: FastifyRequest, reply: FastifyReply, call: CallState, decision: Admission, query: string): void {
    const origin = request.headers.origin
    call.owner = decision.owner
    if (!decision.admitted) {
      call.outcome = decision.outcome
      if (decision.retryAfter !== undefined) void reply.header('retry-after', String(decision.retryAfter))
      corsOnOwnAnswer(reply, decision.api, origin)
      sendError(reply, decision.status, decision.message)
      return
    }
    const { api } = decision
    call.outcome = 'forwarded'
    // Held until the answer is over (track's listener); the caller may have gone while its key was looked up.
    call.caller = decision.caller
    if (call.over) {
      gateway.release(decision.caller)
      call.caller = null
      return
    }

    const { policy } = api
    // Which operation of the document the call is (a compiled router: no scan of paths).
    // The path after the API's own, joined once for the router and the backend's URL (null: none at all, not even "/").
    const restPath = decision.rest.length === 0 ? null : decision.rest.join('/')
    const matched = api.operations === null ? null : api.operations.match(request.method, `/${restPath ?? ''}`)
    call.operation = matched === null ? '' : matched.name
    // Mock answers: from the matched operation's first 2xx example, the backend never called.
    if (policy.mock) {
      request.raw.resume()
      corsOnOwnAnswer(reply, api, origin)
      if (matched === null || matched.mock === undefined) {
        call.outcome = 'mock-unmatched'
        sendError(reply, 404, BACKEND_ERRORS.noMockOperation)
        return
      }
      call.outcome = 'mocked'
      const { status, contentType, body } = matched.mock
      if (contentType !== null) void reply.type(contentType)
      void reply.code(status).header('cache-control', 'no-store').send(body ?? '')
      return
    }
    const forward = (free: boolean): void => {
      if (!free) {
        call.outcome = 'backend-busy'
        corsOnOwnAnswer(reply, api, origin)
        sendError(reply.header('retry-after', '1'), 503, BACKEND_ERRORS.busy)
        return
      }
      // The caller went away while it waited: the connection goes to the next in line.
      if (call.over) {
        backendSlots.release(api.origin)
        return
      }
      call.backend = api.origin
      send(request, reply, call, api, restPath, query)
    }
    const slot = backendSlots.take(api.origin)
    if (slot === true) forward(true)
    else carryOn(reply, slot.then(forward))
  }

  /** Forwards an admitted call to its API's backend with reply-from, and passes its answer on. */
  function send (request: FastifyRequest, reply: FastifyReply, call: CallState, api: GatewayApi, restPath: string | null, query: string): void {
    const { policy } = api
    const origin = request.headers.origin
    if (request.body !== undefined && request.body !== null) {
      request.body = watchedBody(request.raw, bodyIdleMs, () => { call.outcome = 'body-timeout' })
    }
    // The backend's answer gets the API's CORS headers from rewriteHeaders; an answer of the gateway's own, here.
    const corsOn = (own: FastifyReply): FastifyReply => {
      corsOnOwnAnswer(own, api, origin)
      return own
    }
    const target = restPath === null ? api.serviceUrl : `${api.serviceUrl}/${restPath}`
    void reply.from(target, {
      timeout: policy.timeoutMs ?? timeoutMs,
      queryString: () => joinQuery(query, policy.backendQuery),
      rewriteRequestHeaders: (req, headers) => requestHeadersForBackend(headers, { ip: req.ip, ips: req.ips, host: req.host, protocol: req.protocol }, policy.keyHeader, policy.backendHeaders),
      rewriteHeaders: (headers) => {
        // Runs inside undici's callback, where a throw would end the process: this call gets a 502 instead.
        try {
          return responseHeadersFromBackend(headers, policy.cors === null ? null : { policy: policy.cors, origin })
        } catch (err) {
          call.outcome = 'backend-invalid'
          request.log.warn({ err, api: api.path }, 'backend answer headers could not be passed on')
          return {}
        }
      },
      onResponse: (_request, answer, res) => {
        if (answer.sent || call.outcome === 'backend-invalid') {
          res.stream.destroy()
          if (!answer.sent) sendError(corsOn(answer as FastifyReply), 502, BACKEND_ERRORS.invalid)
          return
        }
        answer.send(res.stream)
      },
      onError: (errorReply, { error }) => {
        corsOn(errorReply as FastifyReply)
        const status = (error as { statusCode?: number }).statusCode
        if (call.outcome === 'body-timeout') {
          // The body was not read to its end: the connection cannot carry another request.
          sendError(errorReply.header('connection', 'close') as FastifyReply, 408, BACKEND_ERRORS.bodyTimeout)
          return
        }
        call.outcome = status === 504 ? 'backend-timeout' : status === 502 ? 'backend-invalid' : 'backend-unreachable'
        request.log.warn({ err: error, api: api.path }, 'backend failed')
        sendError(errorReply as FastifyReply, status === 504 ? 504 : 502,
          status === 504 ? BACKEND_ERRORS.timeout : status === 502 ? BACKEND_ERRORS.invalid : BACKEND_ERRORS.unreachable)
      }
    })
  }

  app.route({ method: app.supportedMethods, url: '/*', exposeHeadRoute: false, handler: handle })
}
