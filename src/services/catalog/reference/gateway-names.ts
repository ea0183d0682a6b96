/** The gateway's names in documents and samples: light, for the request thread. */
/** The gateway's own URL in a stored document; replaced by GATEWAY_URL and the API's path when served. */
export const GATEWAY_URL_PLACEHOLDER = 'https://gateway.portico.invalid/__api__'
export const KEY_HEADER = 'Ocp-Apim-Subscription-Key'
export const KEY_QUERY = 'subscription-key'

/** The names an API's gateway document gives its key, and the schemes the gateway supplies (left out). */
export interface GatewayNames { keyHeader: string, keyQuery: string, supplied: string[] }

/** A fingerprint of the names, kept with the document made with them; null for the defaults. */
export function namesFingerprint (names: GatewayNames): string | null {
  const supplied = [...new Set(names.supplied)].sort()
  if (names.keyHeader === KEY_HEADER && names.keyQuery === KEY_QUERY && supplied.length === 0) return null
  return JSON.stringify([names.keyHeader, names.keyQuery, supplied])
}

/** A stored gateway document with the real base URL in place of the placeholder. */
export function servedGatewayText (stored: string, baseUrl: string): string {
  const quoted = JSON.stringify(baseUrl)
  const at = stored.indexOf(`"${GATEWAY_URL_PLACEHOLDER}"`)
  if (at !== -1) return stored.slice(0, at) + quoted + stored.slice(at + GATEWAY_URL_PLACEHOLDER.length + 2)
  const plain = stored.indexOf(GATEWAY_URL_PLACEHOLDER)
  return plain === -1 ? stored : stored.slice(0, plain) + quoted + stored.slice(plain + GATEWAY_URL_PLACEHOLDER.length)
}
