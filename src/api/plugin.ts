import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import swagger from '@fastify/swagger'
import rateLimit from '@fastify/rate-limit'
import { DomainError, Invalid, TooManyRequests } from '../services/kernel/errors'
import { requireSafeInput } from '../services/kernel/input-rules'
import { createRateLimiter } from '../services/kernel/rate-limiter'
import '../http/request-account'
import { ErrorBody } from './schemas'
import managementRoutes from './routes'

export interface ApiPluginOptions {
  /** The portal's public URL: the document's server. */
  publicUrl: string
  /** Calls a minute per token. */
  perMinute: number
  /** Failed authentications a minute per client address; past it, 429 before any token is looked at. */
  failuresPerMinute: number
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route that needs no token (the OpenAPI document). */
    public?: boolean
  }
}


interface JsonError { statusCode: number, error: string, message: string, fields?: Record<string, string> }

function errorBody (statusCode: number, message: string, fields?: Record<string, string>): JsonError {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, ...(fields === undefined ? {} : { fields }) }
}

/** A schema's complaint about a request, as messages per field. */
function validationFields (error: FastifyError): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const problem of error.validation ?? []) {
    const params = problem.params as { missingProperty?: string, additionalProperty?: string, allowedValues?: unknown[] }
    const name = params.missingProperty ?? params.additionalProperty ?? (problem.instancePath.replace(/^\//, '').replace(/\//g, '.') || (error.validationContext ?? 'body'))
    fields[name] ??= params.missingProperty !== undefined
      ? 'is required'
      : params.additionalProperty !== undefined
        ? 'is not a field this call takes'
        : params.allowedValues !== undefined ? `must be one of: ${params.allowedValues.join(', ')}` : (problem.message ?? 'is not valid')
  }
  return fields
}

/**
 * /api/v1, the management API: JSON for automation, over the very services the pages use. It lives
 * in its own context beside the portal's: no session, no cookie, no CSRF (a Bearer token is not
 * sent by a browser on its own). Each call reloads the token's administrator, is rate-limited per
 * token, and is answered `Cache-Control: no-store`.
 */
export default async function apiPlugin (app: FastifyInstance, options: ApiPluginOptions): Promise<void> {
  const { apiTokens } = app.services
  app.decorateRequest('account', null)
  app.decorateRequest('apiTokenId', 0)
  app.addSchema(ErrorBody)

  // Guessing at tokens: each address may fail so many times a minute (in this instance's memory,
  // so a flood of bad tokens costs no database work past the limit).
  const failures = createRateLimiter()
  const failureLimit = { calls: options.failuresPerMinute, periodMs: 60_000 }

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    if (request.routeOptions.config.public === true) return
    const wait = failures.waitFor(request.ip, failureLimit, Date.now())
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000)
      return await reply.code(429).header('retry-after', String(seconds))
        .send(errorBody(429, `Too many failed authentications from this address. Try again in ${seconds} seconds.`))
    }
    const header = request.headers.authorization
    const bearer = header === undefined ? undefined : /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header)?.[1] ?? 'not a bearer token'
    const check = await apiTokens.authenticate(bearer)
    if (!check.ok) {
      if (check.status === 401) {
        failures.take(request.ip, failureLimit, Date.now())
        void reply.header('www-authenticate', 'Bearer realm="portico"')
      }
      return await reply.code(check.status).send(errorBody(check.status, check.message))
    }
    request.account = check.account
    request.apiTokenId = check.tokenId
  })

  // Before the schemas: a NUL byte (PostgreSQL refuses it in text) or nesting past reason is a 400.
  app.addHook('preValidation', async (request) => { requireSafeInput(request.query, request.params, request.body) })

  await app.register(rateLimit, {
    hook: 'preHandler',
    max: options.perMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `token:${request.apiTokenId}`,
    errorResponseBuilder: (_request, context) => new TooManyRequests(`Rate limit exceeded: a token may make ${context.max} calls a minute. Try again in ${context.after}.`, Math.ceil(context.ttl / 1000))
  })

  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof DomainError) {
      if (error instanceof TooManyRequests && reply.getHeader('retry-after') === undefined) void reply.header('retry-after', String(error.retryAfterSeconds))
      return await reply.code(error.statusCode).send(errorBody(error.statusCode, error.message, error instanceof Invalid ? error.fields : undefined))
    }
    if (error.validation !== undefined) {
      const fields = validationFields(error)
      return await reply.code(400).send(errorBody(400, `Some of the data sent is not valid: ${Object.entries(fields).map(([f, m]) => `${f} ${m}`).join('; ')}.`, fields))
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    if (status === 500) {
      request.log.error({ err: error }, 'request failed')
      return await reply.code(500).send(errorBody(500, `Something went wrong on our side (request ${request.id}).`))
    }
    request.log.info({ err: error }, 'client error')
    return await reply.code(status).send(errorBody(status, error.message))
  })

  app.setNotFoundHandler(async (request, reply) => await reply.code(404).send(errorBody(404, `There is no ${request.method} ${request.url.split('?')[0]} in this API.`)))

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Portico management API',
        version: '1',
        contact: { name: 'The administrators of this Portico', url: `${options.publicUrl}/admin/api-tokens` },
        description: 'Users, invitations, groups, APIs, products, subscriptions and usage, for automation. Every call acts as the administrator who created its token (on /admin/api-tokens), with the same rules, audit entries and emails as the publisher portal\'s pages.'
      },
      servers: [{ url: options.publicUrl }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'A management API token from /admin/api-tokens.' } } },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'users', description: 'Developer accounts.' },
        { name: 'invitations', description: 'Invitations by email.' },
        { name: 'groups', description: 'Groups and their members.' },
        { name: 'apis', description: 'APIs and their OpenAPI documents.' },
        { name: 'products', description: 'Products, their APIs and who sees them.' },
        { name: 'subscriptions', description: 'Subscriptions and their keys.' },
        { name: 'organisations', description: 'Teams that own subscriptions, with their owners and members.' },
        { name: 'usage', description: 'Calls through the gateway.' }
      ]
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })

  app.get('/openapi.json', { schema: { hide: true }, config: { public: true, rateLimit: false } }, async () => app.swagger())

  await app.register(managementRoutes)
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The management API token of this call (0 outside /api/v1). */
    apiTokenId: number
  }
}
