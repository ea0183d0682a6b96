import { stringify } from 'yaml'
import { isObject, own, type Json, type JsonObject } from './json'
import { METHODS } from './draw'

/** The gateway's own URL in a stored document; replaced by GATEWAY_URL and the API's path when served. */
export const GATEWAY_URL_PLACEHOLDER = 'https://gateway.portico.invalid/__api__'
export const KEY_HEADER = 'Ocp-Apim-Subscription-Key'
export const KEY_QUERY = 'subscription-key'

/**
 * The document for calling the API through the gateway: one server (the gateway), and the
 * subscription key (header or query) required on every operation beside the document's own
 * requirements. Servers named by paths or operations are dropped: they would bypass the gateway.
 */
export function gatewayDocument (document: JsonObject): JsonObject {
  const components = isObject(own(document, 'components')) ? { ...(own(document, 'components') as JsonObject) } : {}
  const schemes = isObject(own(components, 'securitySchemes')) ? { ...(own(components, 'securitySchemes') as JsonObject) } : {}
  schemes.subscriptionKey = { type: 'apiKey', in: 'header', name: KEY_HEADER, description: 'Your Portico subscription key (primary or secondary).' }
  schemes.subscriptionKeyQuery = { type: 'apiKey', in: 'query', name: KEY_QUERY, description: 'The same key, as a query parameter.' }
  components.securitySchemes = schemes

  const withKey = (security: Json | undefined): Json[] => {
    const alternatives = Array.isArray(security) && security.length > 0 ? security.filter(isObject) : [{}]
    return alternatives.flatMap((alternative) => [{ ...alternative, subscriptionKey: [] }, { ...alternative, subscriptionKeyQuery: [] }])
  }
  const globalSecurity = own(document, 'security')
  const paths: JsonObject = {}
  const sourcePaths = own(document, 'paths')
  for (const [path, rawItem] of Object.entries(isObject(sourcePaths) ? sourcePaths : {})) {
    if (!isObject(rawItem)) { paths[path] = rawItem; continue }
    const item: JsonObject = { ...rawItem }
    delete item.servers
    for (const method of METHODS) {
      const op = own(item, method)
      if (!isObject(op)) continue
      const copy: JsonObject = { ...op, security: withKey(own(op, 'security') ?? globalSecurity) }
      delete copy.servers
      item[method] = copy
    }
    paths[path] = item
  }
  // `servers` first, so serving it replaces the first occurrence of the placeholder.
  const { servers: _servers, paths: _paths, components: _components, security: _security, ...rest } = document
  const head: JsonObject = {}
  for (const key of ['openapi', 'info'] as const) if (Object.hasOwn(rest, key)) head[key] = rest[key]
  return { ...head, servers: [{ url: GATEWAY_URL_PLACEHOLDER, description: 'The Portico gateway' }], ...rest, security: withKey(globalSecurity), paths, components }
}

/** The gateway document as JSON and as YAML text, ready to serve once the placeholder is replaced. */
export function gatewayTexts (document: JsonObject): { json: string, yaml: string } {
  const gateway = gatewayDocument(document)
  return { json: JSON.stringify(gateway, null, 2), yaml: stringify(gateway, { aliasDuplicateObjects: false, lineWidth: 0 }) }
}

/** A stored gateway document with the real base URL in place of the placeholder. */
export function servedGatewayText (stored: string, baseUrl: string): string {
  const quoted = JSON.stringify(baseUrl)
  const at = stored.indexOf(`"${GATEWAY_URL_PLACEHOLDER}"`)
  if (at !== -1) return stored.slice(0, at) + quoted + stored.slice(at + GATEWAY_URL_PLACEHOLDER.length + 2)
  const plain = stored.indexOf(GATEWAY_URL_PLACEHOLDER)
  return plain === -1 ? stored : stored.slice(0, plain) + quoted + stored.slice(plain + GATEWAY_URL_PLACEHOLDER.length)
}
