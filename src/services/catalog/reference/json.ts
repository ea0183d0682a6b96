/** JSON values as a parsed document holds them, and reading them safely (own keys only). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }

export function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function own (object: JsonObject, key: string): Json | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined
}

/** A JSON Pointer's tokens, unescaped (`/paths/~1pets/get` → paths, /pets, get). */
export function pointerTokens (pointer: string): string[] {
  return pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** A JSON Pointer from tokens. */
export function pointerOf (tokens: Array<string | number>): string {
  return tokens.map((t) => `/${String(t).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')
}

/** Follows a local reference (`#/components/schemas/Pet`); undefined when it leads nowhere. */
export function resolvePointer (document: JsonObject, ref: string): Json | undefined {
  if (!ref.startsWith('#')) return undefined
  let node: Json | undefined = document
  let tokens: string[]
  try {
    tokens = pointerTokens(decodeURIComponent(ref.slice(1)))
  } catch {
    return undefined
  }
  for (const token of tokens) {
    if (Array.isArray(node)) node = /^\d+$/.test(token) ? node[Number(token)] : undefined
    else if (isObject(node)) node = own(node, token)
    else return undefined
    if (node === undefined) return undefined
  }
  return node
}
