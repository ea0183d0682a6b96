import type { OperationView, SecuritySchemeView } from './draw'
import { KEY_HEADER } from './gateway-names'

/** The subscription key header, with the developer's key or a placeholder. */
export const subscriptionKeyHeader = (key: string | null, header = KEY_HEADER): [string, string] => [header, key ?? 'YOUR_SUBSCRIPTION_KEY']

export interface CodeSamples { curl: string, javascript: string, python: string }

export interface SampleRequest {
  method: string
  url: string
  headers: Array<[string, string]>
  body: { mediaType: string, value: string } | null
}

/** `petId` → `YOUR_PET_ID`: a placeholder no one can mistake for a value. */
export function placeholder (name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '')
  return `YOUR_${(words === '' ? 'VALUE' : words).toUpperCase()}`
}

/** A path parameter's value in a URL: encoded, `/` too, so no value can reach past its segment (try-it refuses "." and ".."). */
export function pathSegment (value: string): string {
  return encodeURIComponent(value)
}

/**
 * The request an operation's samples make, as pasted: the gateway URL, path parameters filled from
 * their examples (else a placeholder), required query and header parameters (and query
 * parameters the document gives a value for), the document's own
 * credentials as placeholders (except those the gateway supplies), the subscription key (the
 * developer's own when known), and a body when one is required.
 */
export function sampleRequest (baseUrl: string, operation: OperationView, schemes: SecuritySchemeView[], credential: [string, string], supplied: ReadonlySet<string> = new Set()): SampleRequest {
  const path = operation.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const p = operation.parameters.find((x) => x.location === 'path' && x.name === name)
    return p?.sample != null ? pathSegment(p.sample) : placeholder(name)
  })
  const query = new URLSearchParams()
  const headers: Array<[string, string]> = [credential]
  const cookies: string[] = []
  for (const p of operation.parameters) {
    if (!p.required && !(p.suggested && p.sample !== null && p.location === 'query')) continue
    const value = p.sample ?? placeholder(p.name)
    if (p.location === 'query') query.append(p.name, value)
    else if (p.location === 'header') headers.push([p.name, value])
    else if (p.location === 'cookie') cookies.push(`${p.name}=${value}`)
  }
  const requirement = operation.security.find((r) => r.every((s) => supplied.has(s.scheme))) ?? operation.security[0] ?? []
  for (const { scheme: name } of requirement) {
    if (supplied.has(name)) continue
    const scheme = schemes.find((s) => s.name === name)
    if (scheme === undefined) continue
    const value = placeholder(name)
    if (scheme.type === 'apiKey' && scheme.parameterName !== undefined && scheme.parameterName !== '') {
      if (scheme.in === 'query') query.append(scheme.parameterName, value)
      else if (scheme.in === 'cookie') cookies.push(`${scheme.parameterName}=${value}`)
      else headers.push([scheme.parameterName, value])
    } else if (scheme.type === 'http' && scheme.scheme === 'basic') {
      headers.push(['Authorization', 'Basic YOUR_BASE64_USER_AND_PASSWORD'])
    } else if (scheme.type === 'http' || scheme.type === 'oauth2' || scheme.type === 'openIdConnect') {
      headers.push(['Authorization', 'Bearer YOUR_ACCESS_TOKEN'])
    }
  }
  if (cookies.length > 0) headers.push(['Cookie', cookies.join('; ')])
  const body = operation.requestBody?.required === true && operation.sampleBody !== undefined ? operation.sampleBody : null
  if (body !== null) headers.push(['Content-Type', body.mediaType])
  const search = query.toString()
  return { method: operation.method, url: `${baseUrl}${path}${search === '' ? '' : `?${search}`}`, headers, body }
}

const shell = (value: string): string => `'${value.replace(/'/g, "'\\''")}'`

export function curlSample (request: SampleRequest): string {
  const parts = [`curl -X ${request.method} ${shell(request.url)}`]
  for (const [name, value] of request.headers) parts.push(`-H ${shell(`${name}: ${value}`)}`)
  if (request.body !== null) parts.push(`--data-binary ${shell(request.body.value)}`)
  return parts.join(' \\\n  ')
}

export function javascriptSample (request: SampleRequest): string {
  const headers = request.headers.map(([n, v]) => `    ${JSON.stringify(n)}: ${JSON.stringify(v)}`).join(',\n')
  const body = request.body === null ? '' : `,\n  body: ${JSON.stringify(request.body.value)}`
  return `const response = await fetch(${JSON.stringify(request.url)}, {\n  method: ${JSON.stringify(request.method)},\n  headers: {\n${headers}\n  }${body}\n})\nconsole.log(response.status, await response.text())`
}

export function pythonSample (request: SampleRequest): string {
  const headers = request.headers.map(([n, v]) => `    ${JSON.stringify(n)}: ${JSON.stringify(v)},`).join('\n')
  const body = request.body === null ? '' : `,\n    data=${JSON.stringify(request.body.value)}.encode("utf-8")`
  return `import requests\n\nresponse = requests.request(\n    ${JSON.stringify(request.method)},\n    ${JSON.stringify(request.url)},\n    headers={\n${headers}\n    }${body},\n)\nprint(response.status_code, response.text)`
}

export function codeSamples (request: SampleRequest): CodeSamples {
  return { curl: curlSample(request), javascript: javascriptSample(request), python: pythonSample(request) }
}
