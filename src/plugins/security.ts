import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'
import csrf from '@fastify/csrf-protection'
import rateLimit from '@fastify/rate-limit'
import { CSRF_COOKIE } from '../http/cookies'
import { Forbidden, TooManyRequests } from '../services/kernel/errors'
import { inputProblem, UnsafeInput } from '../services/kernel/input-rules'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The page shows or carries a secret (a token link): never stored by a cache. */
    secretPage?: boolean
  }
}

export interface SecurityOptions {
  /** Signs the CSRF secret cookie and keys the HMAC that binds tokens to the signed-in account. */
  secret: string
  /** The portal's own origin (from PUBLIC_URL); a POST's Origin must be this or the request's host. */
  publicOrigin: string
  secureCookies: boolean
  /** Origins besides this site that forms may lead to (identity providers' sign-in and sign-out endpoints). */
  formOrigins?: () => Promise<string[]>
}


function isSafeMethod (method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS'
}

/**
 * A POST that the browser says comes from another site. Sec-Fetch-Site is the browser's own word
 * (our forms only ever post to their own origin, so "same-site", a sibling subdomain, is refused
 * too). Older browsers send only Origin, which must then be ours; "null" (sent under our
 * no-referrer policy) says nothing either way and leaves it to the CSRF token.
 */
function isCrossSite (request: FastifyRequest, publicOrigin: string): boolean {
  const site = request.headers['sec-fetch-site']
  if (site !== undefined) return site === 'cross-site' || site === 'same-site'
  const origin = request.headers.origin
  if (origin === undefined || origin === 'null') return false
  return origin !== publicOrigin && origin !== `${request.protocol}://${request.host}`
}

/**
 * Helmet with a strict CSP for pages without scripts; CSRF on every state-changing request, with
 * cross-site posts refused outright; no caching of signed-in or secret-bearing responses; rate
 * limits for the routes that guess at passwords and tokens (each route opts in by `rateLimited`).
 *
 * The CSRF secret lives in a signed, HttpOnly cookie (not the session), so a visitor who only reads
 * pages gets no session row; each token is bound by HMAC to the signed-in account, so a token from
 * before sign-in, or from another account, does not work after it.
 */
export default fp(async function security (app: FastifyInstance, options: SecurityOptions) {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"]
      }
    }
  })

  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, signed: true, secure: options.secureCookies },
    getUserInfo: (request: FastifyRequest) => csrfUserInfo(request),
    csrfOpts: { hmacKey: options.secret }
  })
  // preValidation: after the body is parsed (the token is a form field), before the schema and the
  // handler. Input with a NUL byte or nested past reason is refused first, on every route, whatever the database.
  app.addHook('preValidation', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    const problem = inputProblem(request.params) ?? inputProblem(request.query) ?? inputProblem(request.body)
    if (problem !== null) {
      done(new UnsafeInput(problem))
      return
    }
    if (isSafeMethod(request.method)) {
      done()
      return
    }
    if (isCrossSite(request, options.publicOrigin)) {
      done(new Forbidden('This form was sent from another site, so it was refused. Open the page on this site and try again.'))
      return
    }
    app.csrfProtection(request, reply, done)
  })

  // Signed-in pages, exports and pages with a secret must not be kept by a browser or proxy cache.
  app.addHook('onSend', async (request, reply, payload) => {
    // A sign-in button's POST answers 303 to the provider, a sign-out's to its end-session
    // endpoint: the CSP's form-action holds redirects too, so those origins are named in it.
    const csp = reply.getHeader('content-security-policy')
    if (options.formOrigins !== undefined && typeof csp === 'string') {
      const extra = await options.formOrigins()
      if (extra.length > 0) void reply.header('content-security-policy', csp.replace("form-action 'self'", `form-action 'self' ${extra.join(' ')}`))
    }
    if (request.account !== null || request.routeOptions.config?.secretPage === true) void reply.header('cache-control', 'no-store')
    return payload
  })

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: () => new TooManyRequests()
  })
}, { name: 'portico-security', dependencies: ['@fastify/cookie', 'portico-auth'] })

/** What a CSRF token is bound to: the signed-in account, or nobody. */
export function csrfUserInfo (request: FastifyRequest): string {
  return request.account === null ? 'signed-out' : `account:${request.account.id}`
}

/** Route options for a rate-limited route: `max` requests a minute per client address. */
export function rateLimited (max: number) {
  return { rateLimit: { max, timeWindow: 60_000 } }
}
