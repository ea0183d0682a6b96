import { BlockList, isIP } from 'node:net'
import { throwIfInvalid, type FieldErrors } from '../kernel/errors'

/**
 * Gateway policies, as pure rules: what an administrator may set per API (CORS, the key's names,
 * backend credentials, the security schemes the gateway supplies, the timeout, mock answers) and
 * per product (the client addresses allowed), checked field by field, and what the gateway keeps
 * of them in memory.
 */

export const DEFAULT_KEY_HEADER = 'ocp-apim-subscription-key'
export const DEFAULT_KEY_QUERY = 'subscription-key'
export const DEFAULT_TIMEOUT_SECONDS = 30
export const TIMEOUT_MAX_SECONDS = 240
/** How long a browser may keep a preflight's answer. */
export const CORS_MAX_AGE_SECONDS = 3600
const LINES_MAX = 100

/** The form's fields, as sent (text areas one item a line). */
export interface ApiPolicyInput {
  corsOrigins: string
  corsHeaders: string
  keyHeader: string
  keyQuery: string
  /** Lines `Name: value`; blank keeps what is set (the values are never shown again). */
  backendHeaders: string
  /** Lines `name=value`; blank keeps what is set. */
  backendQuery: string
  /** Remove the backend credentials that are set. */
  backendClear: boolean
  suppliedSchemes: string
  timeoutSeconds: string
  mock: boolean
}

/** What is kept of an API's policy, readable (the credentials apart). */
export interface ApiPolicy {
  /** Allowed origins (each `scheme://host[:port]`), or '*' for any; empty: no CORS. */
  corsOrigins: string[] | '*'
  /** Extra request headers allowed, lower case. */
  corsHeaders: string[]
  /** The header and query parameter that carry the key; null: the defaults. */
  keyHeader: string | null
  keyQuery: string | null
  suppliedSchemes: string[]
  /** null: the default. */
  timeoutSeconds: number | null
  mock: boolean
}

/** Added to every forwarded request; kept sealed, never shown. */
export interface BackendSecrets {
  headers: Array<[string, string]>
  query: Array<[string, string]>
}

export const NO_POLICY: ApiPolicy = { corsOrigins: [], corsHeaders: [], keyHeader: null, keyQuery: null, suppliedSchemes: [], timeoutSeconds: null, mock: false }

// RFC 9110 token characters: what a header name may be made of.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/
// Headers the gateway sets or that carry the connection: no credential or key may use them.
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect',
  'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip',
  'cookie', 'origin', 'content-type'])
// Query parameter names: the characters a URL carries unencoded.
const QUERY_NAME = /^[A-Za-z0-9._~-]{1,100}$/

function lines (text: string): string[] {
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '')
}

function tooMany (items: string[], what: string): string | null {
  return items.length > LINES_MAX ? `Enter at most ${LINES_MAX} ${what}.` : null
}

/** An origin as browsers send it (scheme, host, port), or null. */
export function normalOrigin (text: string): string | null {
  if (!/^https?:\/\/[^/?#\s]+\/?$/i.test(text)) return null
  try {
    const url = new URL(text)
    return url.origin === 'null' ? null : url.origin
  } catch {
    return null
  }
}

function corsOriginsOf (text: string, errors: FieldErrors): string[] | '*' {
  const items = lines(text)
  if (items.length === 1 && items[0] === '*') return '*'
  const problem = tooMany(items, 'origins')
  if (problem !== null) { errors.corsOrigins = problem; return [] }
  const origins: string[] = []
  for (const item of items) {
    const origin = item === '*' ? null : normalOrigin(item)
    if (origin === null) {
      errors.corsOrigins = item === '*'
        ? 'Enter * alone (any origin) or a list of origins, not both.'
        : `"${item.slice(0, 80)}" is not an origin: enter a scheme, a host and an optional port, such as https://app.example.com.`
      return []
    }
    if (!origins.includes(origin)) origins.push(origin)
  }
  return origins
}

function headerNamesOf (text: string, field: string, errors: FieldErrors): string[] {
  const items = lines(text).map((item) => item.toLowerCase())
  const problem = tooMany(items, 'headers')
  if (problem !== null) { errors[field] = problem; return [] }
  const bad = items.find((item) => !TOKEN.test(item))
  if (bad !== undefined) errors[field] = `"${bad.slice(0, 80)}" is not a header name: letters, digits and - only, such as X-Request-Id.`
  return [...new Set(items)]
}

function pairsOf (text: string, separator: ':' | '=', field: string, errors: FieldErrors): Array<[string, string]> {
  const items = lines(text)
  const problem = tooMany(items, 'lines')
  if (problem !== null) { errors[field] = problem; return [] }
  const pairs: Array<[string, string]> = []
  for (const item of items) {
    const at = item.indexOf(separator)
    const name = at === -1 ? '' : item.slice(0, at).trim()
    const value = at === -1 ? '' : item.slice(at + 1).trim()
    const example = separator === ':' ? 'Name: value, such as X-Api-Key: 1234' : 'name=value, such as api_key=1234'
    if (at === -1 || name === '' || value === '') { errors[field] = `Each line is ${example}.`; return [] }
    if (separator === ':' && (!TOKEN.test(name) || RESERVED_HEADERS.has(name.toLowerCase()))) {
      errors[field] = TOKEN.test(name) ? `${name} is set by the gateway itself: choose another header.` : `"${name.slice(0, 80)}" is not a header name.`
      return []
    }
    if (separator === '=' && !QUERY_NAME.test(name)) { errors[field] = `"${name.slice(0, 80)}" is not a query parameter name: letters, digits and . _ ~ - only.`; return [] }
    if (/[\u0000-\u001f\u007f]/.test(value) || value.length > 4000) { errors[field] = `The value of ${name} holds a character a request cannot carry, or is too long.`; return [] }
    pairs.push([separator === ':' ? name.toLowerCase() : name, value])
  }
  return pairs
}

/**
 * The rules of an API's policy fields: one home for the page (and, later, the management API).
 * `secrets` is null when the credentials are to stay as they are.
 */
export function checkApiPolicy (input: ApiPolicyInput): { policy: ApiPolicy, secrets: BackendSecrets | null } {
  const errors: FieldErrors = {}
  const corsOrigins = corsOriginsOf(input.corsOrigins, errors)
  const corsHeaders = headerNamesOf(input.corsHeaders, 'corsHeaders', errors)
  // Kept as written (documents and samples show it so); compared in lower case, as HTTP does.
  const keyHeaderName = input.keyHeader.trim()
  const keyHeader = keyHeaderName.toLowerCase()
  if (keyHeader !== '' && (!TOKEN.test(keyHeader) || RESERVED_HEADERS.has(keyHeader) || keyHeader === 'authorization')) {
    errors.keyHeader = 'Enter a header name such as X-Api-Key (letters, digits and -), not one the gateway or HTTP itself uses, or leave it blank for Ocp-Apim-Subscription-Key.'
  }
  const keyQuery = input.keyQuery.trim()
  if (keyQuery !== '' && !QUERY_NAME.test(keyQuery)) errors.keyQuery = 'Enter a query parameter name such as api-key (letters, digits and . _ ~ -), or leave it blank for subscription-key.'
  const headers = pairsOf(input.backendHeaders, ':', 'backendHeaders', errors)
  const query = pairsOf(input.backendQuery, '=', 'backendQuery', errors)
  if (keyHeader !== '' && headers.some(([name]) => name === keyHeader)) errors.backendHeaders = 'The key\'s own header cannot also be a backend credential.'
  const suppliedSchemes = [...new Set(lines(input.suppliedSchemes))]
  if (suppliedSchemes.length > LINES_MAX || suppliedSchemes.some((name) => name.length > 200)) errors.suppliedSchemes = `Enter at most ${LINES_MAX} scheme names, one a line.`
  const timeoutText = input.timeoutSeconds.trim()
  const timeout = timeoutText === '' ? null : /^\d{1,3}$/.test(timeoutText) ? Number(timeoutText) : NaN
  if (timeout !== null && !(timeout >= 1 && timeout <= TIMEOUT_MAX_SECONDS)) {
    errors.timeoutSeconds = `Enter the timeout as a whole number of seconds from 1 to ${TIMEOUT_MAX_SECONDS}, or leave it blank for ${DEFAULT_TIMEOUT_SECONDS}.`
  }
  throwIfInvalid(errors)
  const policy: ApiPolicy = {
    corsOrigins,
    corsHeaders,
    keyHeader: keyHeader === '' || keyHeader === DEFAULT_KEY_HEADER ? null : keyHeaderName,
    keyQuery: keyQuery === '' || keyQuery === DEFAULT_KEY_QUERY ? null : keyQuery,
    suppliedSchemes,
    timeoutSeconds: timeout,
    mock: input.mock
  }
  const secrets = input.backendClear ? { headers: [], query: [] } : headers.length === 0 && query.length === 0 ? null : { headers, query }
  return { policy, secrets }
}

/** What is wrong with a product's allowed client addresses (addresses and CIDR ranges, one a line), or null. */
export function ipAllowProblem (text: string): string | null {
  const items = lines(text)
  if (items.length > 1000) return 'Enter at most 1,000 addresses or ranges.'
  for (const item of items) {
    if (addressRule(item) === null) return `"${item.slice(0, 80)}" is not an IP address or a CIDR range such as 203.0.113.0/24 or 2001:db8::/32.`
  }
  return null
}

function addressRule (item: string): { address: string, prefix: number, family: 'ipv4' | 'ipv6' } | null {
  const [address, prefixText, extra] = item.split('/')
  if (extra !== undefined) return null
  const version = isIP(address)
  if (version === 0) return null
  const family = version === 4 ? 'ipv4' : 'ipv6'
  const max = version === 4 ? 32 : 128
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN
  if (!(prefix >= 0 && prefix <= max)) return null
  return { address, prefix, family }
}

/** Who may use a product's keys: null for anyone (no lines), else a check of one address. */
export function ipAllowMatcher (text: string): ((ip: string) => boolean) | null {
  const rules = lines(text).map(addressRule).filter((rule) => rule !== null)
  if (rules.length === 0) return null
  const list = new BlockList()
  for (const rule of rules) list.addSubnet(rule.address, rule.prefix, rule.family)
  return (ip: string): boolean => {
    // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
    const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip
    const version = isIP(plain)
    return version !== 0 && list.check(plain, version === 4 ? 'ipv4' : 'ipv6')
  }
}

/** The policy as kept in the apis row's columns. */
export interface PolicyColumns {
  cors_origins: string
  cors_headers: string
  key_header: string | null
  key_query: string | null
  supplied_schemes: string
  timeout_seconds: number | null
  mock: boolean | number
}

export function policyColumns (policy: ApiPolicy): PolicyColumns {
  return {
    cors_origins: policy.corsOrigins === '*' ? '*' : policy.corsOrigins.join('\n'),
    cors_headers: policy.corsHeaders.join('\n'),
    key_header: policy.keyHeader,
    key_query: policy.keyQuery,
    supplied_schemes: policy.suppliedSchemes.join('\n'),
    timeout_seconds: policy.timeoutSeconds,
    mock: policy.mock
  }
}

export function policyOf (row: PolicyColumns): ApiPolicy {
  return {
    corsOrigins: row.cors_origins === '*' ? '*' : lines(row.cors_origins),
    corsHeaders: lines(row.cors_headers),
    keyHeader: row.key_header,
    keyQuery: row.key_query,
    suppliedSchemes: lines(row.supplied_schemes),
    timeoutSeconds: row.timeout_seconds,
    mock: Boolean(row.mock)
  }
}

/** The policy's fields as the form shows them (the credentials apart: never shown). */
export function policyInput (policy: ApiPolicy): Omit<ApiPolicyInput, 'backendHeaders' | 'backendQuery' | 'backendClear'> {
  return {
    corsOrigins: policy.corsOrigins === '*' ? '*' : policy.corsOrigins.join('\n'),
    corsHeaders: policy.corsHeaders.join('\n'),
    keyHeader: policy.keyHeader ?? '',
    keyQuery: policy.keyQuery ?? '',
    suppliedSchemes: policy.suppliedSchemes.join('\n'),
    timeoutSeconds: policy.timeoutSeconds === null ? '' : String(policy.timeoutSeconds),
    mock: policy.mock
  }
}
