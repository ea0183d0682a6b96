import { isObject, own, type Json, type JsonObject } from './json'
import { METHODS } from './draw'
import { GATEWAY_URL_PLACEHOLDER, KEY_HEADER, KEY_QUERY, type GatewayNames } from './gateway-names'

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

/**
 * A gateway document (as made by `gatewayDocument`) with the API's own key names, and without
 * the security schemes the gateway supplies: gone from every requirement and from the components.
 */
export function withGatewayNames (document: JsonObject, names: GatewayNames): JsonObject {
  const supplied = new Set(names.supplied.filter((name) => name !== 'subscriptionKey' && name !== 'subscriptionKeyQuery'))
  const components = isObject(own(document, 'components')) ? { ...(own(document, 'components') as JsonObject) } : {}
  const schemes = isObject(own(components, 'securitySchemes')) ? { ...(own(components, 'securitySchemes') as JsonObject) } : {}
  for (const name of supplied) delete schemes[name]
  schemes.subscriptionKey = { ...(isObject(schemes.subscriptionKey) ? schemes.subscriptionKey : {}), type: 'apiKey', in: 'header', name: names.keyHeader }
  schemes.subscriptionKeyQuery = { ...(isObject(schemes.subscriptionKeyQuery) ? schemes.subscriptionKeyQuery : {}), type: 'apiKey', in: 'query', name: names.keyQuery }
  components.securitySchemes = schemes
  const without = (security: Json | undefined): Json | undefined => {
    if (supplied.size === 0 || !Array.isArray(security)) return security
    return security.map((alternative) => isObject(alternative) ? Object.fromEntries(Object.entries(alternative).filter(([name]) => !supplied.has(name))) : alternative)
  }
  const paths: JsonObject = {}
  const sourcePaths = own(document, 'paths')
  for (const [path, rawItem] of Object.entries(isObject(sourcePaths) ? sourcePaths : {})) {
    if (!isObject(rawItem) || supplied.size === 0) { paths[path] = rawItem; continue }
    const item: JsonObject = { ...rawItem }
    for (const method of METHODS) {
      const op = own(item, method)
      if (isObject(op) && Array.isArray(own(op, 'security'))) item[method] = { ...op, security: without(own(op, 'security')) ?? [] }
    }
    paths[path] = item
  }
  const security = without(own(document, 'security'))
  return { ...document, ...(security === undefined ? {} : { security }), paths, components }
}

/** The gateway document as JSON text, ready to serve once the placeholder is replaced. */
export function gatewayText (document: JsonObject): string {
  return JSON.stringify(gatewayDocument(document), null, 2)
}
