import type { FastifyRequest } from 'fastify'

// Paths that carry a secret token in their last segment.
const TOKEN_PATH = /^(\/(?:invitations|confirm|password-reset|profile\/email)\/)[^/?#]+/

/** A request URL as it may appear in logs: tokens replaced, query strings dropped. */
export function loggableUrl (url: string): string {
  const path = url.split('?')[0]
  return path.replace(TOKEN_PATH, '$1[token]')
}

/** pino options for the server: JSON lines, no bodies, no tokens, no cookies. */
export function loggerOptions (level: string) {
  return {
    level,
    serializers: {
      req (request: FastifyRequest) {
        return { method: request.method, url: loggableUrl(request.url), remoteAddress: request.ip, reqId: request.id }
      }
    }
  }
}
