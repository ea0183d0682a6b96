import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Busy, DomainError, TooManyRequests } from '../services/kernel/errors'

const TITLES: Record<number, string> = {
  400: 'That request could not be read',
  403: 'Access denied',
  404: 'Page not found',
  409: 'That could not be done',
  410: 'This link has expired',
  413: 'That was too much data',
  415: 'That request could not be read',
  429: 'Too many attempts',
  503: 'Please try again shortly'
}

function clientMessage (error: FastifyError): string {
  if (error.code === 'FST_CSRF_MISSING_SECRET' || error.code === 'FST_CSRF_INVALID_TOKEN') {
    return 'This form has expired or came from another site. Go back, reload the page and try again.'
  }
  if (error.statusCode === 413) return 'That was more data than this form accepts. An OpenAPI document can be at most 10 MB; other forms take far less. Go back and send less.'
  if (error.validation !== undefined) return 'Some of the data sent was not in the expected form. Go back and check the form.'
  return 'The request could not be handled. Go back and try again.'
}

/** One error handler: domain errors and client errors become a page with their status; never a stack trace. */
export default fp(async function errors (app: FastifyInstance) {
  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let status = error instanceof DomainError ? error.statusCode : (error.statusCode ?? 500)
    if (status < 400 || status > 599) status = 500
    let message: string
    if (error instanceof DomainError) {
      message = error.message
    } else if (status < 500) {
      message = clientMessage(error)
      request.log.info({ err: error }, 'client error')
    } else {
      request.log.error({ err: error }, 'request failed')
      message = `Something went wrong on our side. Please try again; if it keeps happening, tell an administrator (request ${request.id}).`
    }
    if ((error instanceof TooManyRequests || error instanceof Busy) && reply.getHeader('retry-after') === undefined) {
      void reply.header('retry-after', String(error.retryAfterSeconds))
    }
    return await reply.page('error', { title: TITLES[status] ?? 'Something went wrong', message, status }, status)
  })

  app.setNotFoundHandler(async (_request, reply) => {
    return await reply.page('error', { title: TITLES[404], message: 'There is nothing at this address.', status: 404 }, 404)
  })
}, { name: 'portico-errors', dependencies: ['portico-views'] })
