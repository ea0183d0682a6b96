import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'
import csrf from '@fastify/csrf-protection'
import rateLimit from '@fastify/rate-limit'
import { DomainError } from '../services/errors'

export class TooManyRequests extends DomainError {
  constructor (message = 'Too many attempts. Please wait a minute and try again.') {
    super(429, message)
  }
}

/**
 * Helmet with a strict CSP for pages without scripts, CSRF on every state-changing request, and
 * rate limits for the routes that guess at passwords and tokens (each route opts in by `rateLimited`).
 */
export default fp(async function security (app: FastifyInstance) {
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

  await app.register(csrf, { sessionPlugin: '@fastify/session' })
  // preValidation: after the body is parsed (the token is a form field), before the schema and the handler.
  app.addHook('preValidation', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') {
      done()
      return
    }
    app.csrfProtection(request, reply, done)
  })

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: () => new TooManyRequests()
  })
}, { name: 'portico-security', dependencies: ['@fastify/session'] })

/** Route options for a rate-limited route: `max` requests a minute per client address. */
export function rateLimited (max: number) {
  return { rateLimit: { max, timeWindow: 60_000 } }
}
