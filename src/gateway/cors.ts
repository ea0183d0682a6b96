import type { IncomingHttpHeaders } from 'node:http'
import { CORS_MAX_AGE_SECONDS } from '../services/gateway/policies'
import type { GatewayPolicy } from '../services/gateway/key-cache'

export type CorsPolicy = NonNullable<GatewayPolicy['cors']>

/** What a browser's preflight may ask for: every method a backend may take. */
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'

/** Whether a call is a CORS preflight: OPTIONS with an Origin and the method it asks about. */
export function isPreflight (method: string, headers: IncomingHttpHeaders): boolean {
  return method === 'OPTIONS' && typeof headers.origin === 'string' && typeof headers['access-control-request-method'] === 'string'
}

/** Whether the API's CORS policy lets this origin call it from a browser. */
export function originAllowed (cors: CorsPolicy, origin: string | undefined): origin is string {
  return origin !== undefined && (cors.origins === '*' || cors.origins.has(origin))
}

/** The preflight's answer headers for an allowed origin (credentials are never allowed). */
export function preflightHeaders (cors: CorsPolicy, origin: string): Record<string, string> {
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
