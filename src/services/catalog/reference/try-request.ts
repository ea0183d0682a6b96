import { throwIfInvalid, type FieldErrors } from '../../kernel/errors'
import type { OperationView } from './draw'
import { pathSegment } from './samples'

/** The try-it form's fields: `param.<in>.<name>` per parameter, `body`, `contentType`. */
export type TryForm = Record<string, string | undefined>

export interface TryRequest {
  method: string
  /** After the API's gateway path: the operation's path with its parameters encoded, and the query. */
  pathAndQuery: string
  headers: Array<[string, string]>
  body: string | null
  contentType: string | null
}

export const TRY_BODY_MAX = 1024 * 1024

// Headers the caller may not set through a parameter: the gateway's own, and the connection's.
const RESERVED_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'keep-alive', 'proxy-authorization',
  'proxy-connection', 'ocp-apim-subscription-key', 'content-type', 'cookie', 'expect', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip'])

// A header value: visible ASCII and spaces/tabs inside, nothing that could end the line.
const HEADER_VALUE = /^[\t\x20-\x7E\x80-\xFF]*$/
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"\r\n]*"|[A-Za-z0-9!#$&^_.+-]+))*$/

export const fieldName = (location: string, name: string): string => `param.${location}.${name}`

/**
 * The request "Try it" sends, from the form: only the operation's declared parameters are read,
 * each value encoded into its place (a path value stays inside its segment, `..` and `/`
 * included); no field can name a host, a scheme or a URL. Bad values are `Invalid`, beside the field.
 */
export function buildTryRequest (operation: OperationView, form: TryForm): TryRequest {
  const errors: FieldErrors = {}
  const value = (location: string, name: string): string => form[fieldName(location, name)] ?? ''
  const path = operation.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const v = value('path', name)
    if (v === '') errors[fieldName('path', name)] = `Enter a value for ${name}: it is part of the path.`
    // "." and ".." would be dot segments, resolved away before the gateway sees them.
    else if (/^\.{1,2}$/.test(v)) errors[fieldName('path', name)] = `${name} cannot be "." or "..": they are not values but steps up the path.`
    return pathSegment(v)
  })
  const query = new URLSearchParams()
  const headers: Array<[string, string]> = []
  const cookies: string[] = []
  for (const p of operation.parameters) {
    if (p.location === 'path') continue
    const v = value(p.location, p.name)
    const field = fieldName(p.location, p.name)
    if (v === '') {
      if (p.required) errors[field] = `Enter a value for ${p.name}: it is required.`
      continue
    }
    if (p.location === 'query') query.append(p.name, v)
    else if (p.location === 'header') {
      if (RESERVED_HEADERS.has(p.name.toLowerCase()) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(p.name)) continue
      if (!HEADER_VALUE.test(v)) errors[field] = 'A header value cannot hold line breaks or other control characters.'
      else headers.push([p.name, v])
    } else if (p.location === 'cookie') {
      if (!/^[\x21-\x7E]*$/.test(v) || /[;,"\\]/.test(v)) errors[field] = 'A cookie value is printable characters without spaces, quotes, commas, semicolons or backslashes.'
      else cookies.push(`${p.name}=${v}`)
    }
  }
  if (cookies.length > 0) headers.push(['Cookie', cookies.join('; ')])
  const body = form.body ?? ''
  const contentType = (form.contentType ?? '').trim()
  const hasBody = operation.requestBody !== undefined && body !== ''
  if (operation.requestBody?.required === true && body === '') errors.body = 'Enter the request body: this operation requires one.'
  if (hasBody && !MEDIA_TYPE.test(contentType)) errors.contentType = 'Enter a media type, such as application/json.'
  if (Buffer.byteLength(body) > TRY_BODY_MAX) errors.body = 'The body can be at most 1 MB here.'
  throwIfInvalid(errors)
  const search = query.toString()
  return {
    method: operation.method,
    pathAndQuery: `${path}${search === '' ? '' : `?${search}`}`,
    headers,
    body: hasBody ? body : null,
    contentType: hasBody ? contentType : null
  }
}
