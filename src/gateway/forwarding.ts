import type { IncomingHttpHeaders } from 'node:http'
import { SESSION_COOKIE, CSRF_COOKIE } from '../http/cookies'
import { DEFAULT_KEY_HEADER, DEFAULT_KEY_QUERY } from '../services/gateway/policies'
import { originAllowed, varyOrigin, type CorsPolicy } from './cors'

/** The key's names when an API's policy does not rename them. */
export const KEY_HEADER = DEFAULT_KEY_HEADER
export const KEY_QUERY = DEFAULT_KEY_QUERY

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
  /** The query as it came (undecoded), without "?". */
  query: string
}

/**
 * The request target in origin form ("/path?query"). An absolute-form target
 * ("http://host/path", RFC 9112 §3.2.2) gives its own path, as the router read it; any other
 * form is null.
 */
export function originForm (rawUrl: string): string | null {
  if (rawUrl.startsWith('/')) return rawUrl
  const authority = /^https?:\/\/[^/?#]*/i.exec(rawUrl)
  if (authority === null) return null
  const rest = rawUrl.slice(authority[0].length)
  if (rest === '' || rest.startsWith('?')) return `/${rest}`
  return rest.startsWith('/') ? rest : null
}

/**
 * Splits a request's raw URL into path segments (after the gateway's base path) and query; null
 * when the target is not a path under the base (an absolute-form target whose path is elsewhere).
 */
export function splitGatewayUrl (rawUrl: string, basePath: string): GatewayUrl | null {
  const target = originForm(rawUrl)
  if (target === null) return null
  const q = target.indexOf('?')
  const path = q === -1 ? target : target.slice(0, q)
  if (!path.startsWith(basePath) || (path.length > basePath.length && path[basePath.length] !== '/')) return null
  // The slashes after the base are skipped (a loop: this runs on every call).
  let start = basePath.length
  while (path.charCodeAt(start) === 47 /* '/' */) start++
  return { segments: path.slice(start).split('/'), query: q === -1 ? '' : target.slice(q + 1) }
}

/**
 * Takes a parameter (the key's, by its decoded name) out of a raw query: its first value (decoded;
 * "" when given without one), or null, and the query without any of its occurrences, the other
 * parts as they came.
 */
export function takeQueryParam (query: string, name: string): { value: string | null, rest: string } {
  if (query === '') return { value: null, rest: '' }
  let value: string | null = null
  const kept: string[] = []
  for (const part of query.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    if (decodeQueryPart(eq === -1 ? part : part.slice(0, eq)) === name) {
      value ??= eq === -1 ? '' : (decodeQueryPart(part.slice(eq + 1)) ?? '')
    } else {
      kept.push(part)
    }
  }
  return { value, rest: kept.join('&') }
}

/**
 * A call's path, checked: every segment must decode, and none may be "." or "..", which would
 * climb out of the API's base on the backend.
 */
export function safePath (segments: string[]): boolean {
  for (const segment of segments) {
    // Without an escape a segment is what it decodes to: the common case, no decoding.
    if (!segment.includes('%')) {
      if (segment === '.' || segment === '..' || segment.includes('\\')) return false
      continue
    }
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

// Headers a client sends that say who it is or where it came from: set again from what TRUST_PROXY
// believes, never passed on as the client wrote them.
const CLIENT_CLAIMS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip']
/** What never goes to the backend as the client sent it (besides the key and what Connection lists). */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, ...CLIENT_CLAIMS])

/** The header names a Connection header lists (hop-by-hop too), or null when it lists none. */
function connectionListed (connection: string | string[] | undefined): Set<string> | null {
  // The usual values list no other header.
  if (connection === undefined || connection === '' || connection === 'keep-alive' || connection === 'close') return null
  const names = (Array.isArray(connection) ? connection.join(',') : connection).toLowerCase().split(',').map((h) => h.trim()).filter((h) => h !== '')
  return names.length === 0 ? null : new Set(names)
}

/** What the gateway knows of the caller: its address and the proxies TRUST_PROXY believes, the host and scheme it asked for. */
export interface CallerAddress {
  /** The client's address as TRUST_PROXY defines it. */
  ip: string
  /** fastify's `request.ips`: the direct peer first, then each trusted hop, ending with the client. */
  ips: string[] | undefined
  host: string | undefined
  protocol: string
}

/** A node of RFC 7239's Forwarded header: IPv6 addresses in brackets and quotes. */
function forwardedNode (ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip
}

/** A quoted-string of RFC 7230 (for Forwarded's host, which holds a ':' when it has a port). */
function quoted (value: string): string {
  if (!value.includes('"') && !value.includes('\\')) return `"${value}"`
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`
}

/**
 * What the backend receives: no key (in `keyHeader`, the API's), no hop-by-hop headers, no portal
 * cookies; X-Forwarded-For, -Host, -Proto, Forwarded and X-Real-IP set from what the gateway
 * believes, whatever the client sent; then the API's backend credentials, over anything the
 * client sent in their names.
 *
 * A new object, copied in one pass: reply-from's copy has had Connection deleted (most clients
 * send one), which leaves it a slow dictionary, and undici copies what it is given once more.
 */
export function requestHeadersForBackend (headers: IncomingHttpHeaders, client: CallerAddress, keyHeader = KEY_HEADER, credentials: ReadonlyArray<[string, string]> = []): IncomingHttpHeaders {
  const listed = connectionListed(headers.connection)
  const out: IncomingHttpHeaders = {}
  for (const name in headers) {
    if (NOT_FORWARDED.has(name) || name === keyHeader || (listed !== null && listed.has(name))) continue
    out[name] = headers[name]
  }
  if (typeof out.cookie === 'string') {
    const cookie = withoutOwnCookies(out.cookie)
    if (cookie === '') delete out.cookie
    else out.cookie = cookie
  }
  // The client first, then every trusted proxy, ending with the peer that reached this gateway.
  out['x-forwarded-for'] = client.ips === undefined || client.ips.length < 2 ? client.ip : [...client.ips].reverse().join(', ')
  out['x-real-ip'] = client.ip
  out['x-forwarded-proto'] = client.protocol
  let forwarded = `for=${forwardedNode(client.ip)};proto=${client.protocol}`
  if (client.host !== undefined && client.host !== '') {
    out['x-forwarded-host'] = client.host
    forwarded += `;host=${quoted(client.host)}`
  }
  out.forwarded = forwarded
  for (const [name, value] of credentials) out[name] = value
  return out
}

// Headers a backend could use to act on the portal's whole origin, which the gateway shares:
// sign its visitors out (Clear-Site-Data), pin it to HTTPS or send it elsewhere (HSTS, Alt-Svc).
const ORIGIN_WIDE = ['clear-site-data', 'strict-transport-security', 'alt-svc']
/** What never comes back to the caller (besides what Connection lists and the portal's cookies). */
const NOT_PASSED_BACK = new Set([...HOP_BY_HOP, ...ORIGIN_WIDE])

/** A Set-Cookie line's cookie name, or null for a nameless one ("=x", "x"), which a browser keeps under the empty name. */
function cookieName (line: string): string | null {
  const eq = line.indexOf('=')
  if (eq === -1) return null
  const name = line.slice(0, eq).trim()
  return name === '' ? null : name
}

/** The cookies a backend may set: named, and none of the portal's own. */
function backendCookies (setCookie: string | string[]): string[] {
  const lines = typeof setCookie === 'string' ? [setCookie] : setCookie
  return lines.filter((line) => {
    const name = cookieName(line)
    return name !== null && !OWN_COOKIES.has(name)
  })
}

/** An API's CORS policy and the calling origin, for the answer's headers. */
export interface AnswerCors { policy: CorsPolicy, origin: string | undefined }

/**
 * What the caller receives from the backend: no hop-by-hop headers, no header that acts on the
 * portal's origin (its cookies, Clear-Site-Data, HSTS, Alt-Svc), and a sandbox policy, so a page a
 * backend returns cannot act as the portal. undici hands a header sent once as a string and one
 * sent several times as an array, Set-Cookie included: both are handled.
 *
 * Under an API's CORS policy (in the same pass): the backend's own CORS headers dropped (the
 * gateway decides, and never allows credentials), Access-Control-Allow-Origin for an allowed
 * origin, and Vary: Origin always (the answer depends on it).
 */
export function responseHeadersFromBackend (headers: IncomingHttpHeaders, cors: AnswerCors | null = null): IncomingHttpHeaders {
  const listed = connectionListed(headers.connection)
  const out: IncomingHttpHeaders = {}
  for (const name in headers) {
    if (NOT_PASSED_BACK.has(name) || (listed !== null && listed.has(name)) || (cors !== null && name.startsWith('access-control-'))) continue
    out[name] = headers[name]
  }
  if (cors !== null) {
    if (originAllowed(cors.policy, cors.origin)) out['access-control-allow-origin'] = cors.origin
    out.vary = varyOrigin(headers.vary)
  }
  const setCookie = headers['set-cookie']
  if (setCookie !== undefined) {
    const kept = backendCookies(setCookie)
    if (kept.length === 0) delete out['set-cookie']
    else out['set-cookie'] = kept
  }
  const policy = headers['content-security-policy']
  out['content-security-policy'] = policy === undefined ? 'sandbox' : `${Array.isArray(policy) ? policy.join(', ') : policy}, sandbox`
  return out
}
