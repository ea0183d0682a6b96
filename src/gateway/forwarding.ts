import type { IncomingHttpHeaders } from 'node:http'
import { CSRF_COOKIE } from '../plugins/security'
import { SESSION_COOKIE } from '../plugins/auth'

export const KEY_HEADER = 'ocp-apim-subscription-key'
export const KEY_QUERY = 'subscription-key'

// Hop-by-hop headers (RFC 9110 §7.6.1) and those undici refuses to send: never passed on.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']
// The portal's own cookies: a backend never sees them, and cannot set them.
const OWN_COOKIES = new Set([SESSION_COOKIE, CSRF_COOKIE])

function decodeQueryPart (part: string): string | null {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '))
  } catch {
    return null
  }
}

export interface GatewayUrl {
  /** The raw path after the gateway's base, split on "/". */
  segments: string[]
  /** The query without the subscription key, as it came (undecoded), without "?". */
  query: string
  /** The key given in the query, if any. */
  queryKey: string | null
}

/** Splits a request's raw URL (after the gateway's base path) into path segments and query. */
export function splitGatewayUrl (rawUrl: string, basePath: string): GatewayUrl {
  const q = rawUrl.indexOf('?')
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
  const rest = path.slice(basePath.length).replace(/^\/+/, '')
  let queryKey: string | null = null
  const kept: string[] = []
  if (q !== -1) {
    for (const part of rawUrl.slice(q + 1).split('&')) {
      if (part === '') continue
      const eq = part.indexOf('=')
      if (decodeQueryPart(eq === -1 ? part : part.slice(0, eq)) === KEY_QUERY) {
        queryKey ??= eq === -1 ? '' : (decodeQueryPart(part.slice(eq + 1)) ?? '')
      } else {
        kept.push(part)
      }
    }
  }
  return { segments: rest.split('/'), query: kept.join('&'), queryKey }
}

/**
 * A call's path, checked: every segment must decode, and none may be "." or "..", which would
 * climb out of the API's base on the backend.
 */
export function safePath (segments: string[]): boolean {
  for (const segment of segments) {
    let decoded: string
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      return false
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/..') || decoded.includes('../') || decoded.includes('\\')) return false
  }
  return true
}

function withoutOwnCookies (cookie: string): string {
  return cookie.split(';').filter((pair) => !OWN_COOKIES.has(pair.split('=')[0].trim())).join(';').trim()
}

/** What the backend receives: no key, no hop-by-hop headers, no portal cookies; X-Forwarded-* set. */
export function requestHeadersForBackend (headers: IncomingHttpHeaders, client: { ip: string, host: string | undefined, protocol: string }): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers }
  const listed = typeof headers.connection === 'string' ? headers.connection.toLowerCase().split(',').map((h) => h.trim()) : []
  for (const name of [...HOP_BY_HOP, ...listed, KEY_HEADER]) delete out[name]
  if (typeof out.cookie === 'string') {
    const cookie = withoutOwnCookies(out.cookie)
    if (cookie === '') delete out.cookie
    else out.cookie = cookie
  }
  const forwardedFor = headers['x-forwarded-for']
  out['x-forwarded-for'] = typeof forwardedFor === 'string' && forwardedFor.trim() !== '' ? `${forwardedFor}, ${client.ip}` : client.ip
  if (client.host !== undefined) out['x-forwarded-host'] = client.host
  out['x-forwarded-proto'] = client.protocol
  return out
}

/**
 * What the caller receives from the backend: no hop-by-hop headers, no attempt to set the portal's
 * cookies, and a sandbox policy, so a page a backend returns cannot act as the portal's origin.
 */
export function responseHeadersFromBackend (headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers }
  const connection = headers.connection
  const listed = typeof connection === 'string' ? connection.toLowerCase().split(',').map((h) => h.trim()) : []
  for (const name of [...HOP_BY_HOP, ...listed]) delete out[name]
  const setCookie = headers['set-cookie']
  if (setCookie !== undefined) {
    const kept = setCookie.filter((c) => !OWN_COOKIES.has(c.split('=')[0].trim()))
    if (kept.length === 0) delete out['set-cookie']
    else out['set-cookie'] = kept
  }
  const policy = headers['content-security-policy']
  out['content-security-policy'] = policy === undefined ? 'sandbox' : `${policy}, sandbox`
  return out
}
