import type { IncomingHttpHeaders } from 'node:http'
import { CORS_MAX_AGE_SECONDS } from '../services/gateway/policies'
import type { GatewayPolicy } from '../services/gateway/key-cache'

/** What a browser's preflight may ask for: every method a backend may take. */
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'

/** Whether a call is a CORS preflight: OPTIONS with an Origin and the method it asks about. */
export function isPreflight (method: string, headers: IncomingHttpHeaders): boolean {
  return method === 'OPTIONS' && typeof headers.origin === 'string' && typeof headers['access-control-request-method'] === 'string'
}

/** Whether the API's CORS policy lets this origin call it from a browser. */
export function originAllowed (cors: NonNullable<GatewayPolicy['cors']>, origin: string | undefined): origin is string {
  return origin !== undefined && (cors.origins === '*' || cors.origins.has(origin))
}

/** The preflight's answer headers for an allowed origin (credentials are never allowed). */
export function preflightHeaders (cors: NonNullable<GatewayPolicy['cors']>, origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': ALLOWED_METHODS,
    'access-control-allow-headers': cors.allowHeaders,
    'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
    vary: 'Origin'
  }
}

/** Adds Origin to a Vary header's value (kept as it was otherwise). */
export function varyOrigin (vary: string | string[] | undefined): string {
  if (vary === undefined || vary === '') return 'Origin'
  const given = (Array.isArray(vary) ? vary.join(', ') : vary).split(',').map((v) => v.trim()).filter((v) => v !== '')
  if (given.includes('*') || given.some((v) => v.toLowerCase() === 'origin')) return given.join(', ')
  return [...given, 'Origin'].join(', ')
}

/**
 * An answer's headers under the API's CORS policy: the backend's own CORS headers dropped (the
 * gateway decides, and never allows credentials), Access-Control-Allow-Origin for an allowed
 * origin, and Vary: Origin always (the answer depends on it).
 */
export function withCors (headers: IncomingHttpHeaders, cors: NonNullable<GatewayPolicy['cors']>, origin: string | undefined): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const name in headers) if (!name.startsWith('access-control-')) out[name] = headers[name]
  if (originAllowed(cors, origin)) out['access-control-allow-origin'] = origin
  out.vary = varyOrigin(headers.vary)
  return out
}
