import { isObject, own, resolvePointer, type Json, type JsonObject } from './json'

const EXAMPLE_MAX = 20_000

/** A value shown as an example: strings as they are, anything else as indented JSON. */
export function exampleText (value: Json | undefined): string {
  const shown = typeof value === 'string' ? value : JSON.stringify(value, null, 2) ?? ''
  return shown.length > EXAMPLE_MAX ? `${shown.slice(0, EXAMPLE_MAX)}\n…` : shown
}

const BY_FORMAT: Record<string, Json> = {
  'date-time': '2024-01-01T00:00:00Z', date: '2024-01-01', email: 'user@example.com', uri: 'https://example.com', url: 'https://example.com',
  uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6', ipv4: '192.0.2.1', ipv6: '2001:db8::1', hostname: 'example.com', byte: 'U3dhZ2dlcg==', password: 'secret'
}

/**
 * A value for a schema, for a sample request: its example, default, const or first enum value;
 * else one made from its type (objects from their properties, three levels at most). `shallow`:
 * only what the schema itself says (a parameter), never a made-up object.
 */
export function exampleFor (document: JsonObject, schema: Json | undefined, options: { shallow?: boolean } = {}, depth = 0, seen: string[] = []): Json | undefined {
  if (!isObject(schema) || depth > 3) return undefined
  const ref = own(schema, '$ref')
  if (typeof ref === 'string') {
    if (seen.includes(ref)) return undefined
    return exampleFor(document, resolvePointer(document, ref), options, depth, [...seen, ref])
  }
  for (const key of ['example', 'default', 'const'] as const) {
    const value = own(schema, key)
    if (value !== undefined) return value
  }
  const examples = own(schema, 'examples')
  if (Array.isArray(examples) && examples.length > 0) return examples[0]
  const enumValues = own(schema, 'enum')
  if (Array.isArray(enumValues) && enumValues.length > 0) return enumValues[0]
  for (const kind of ['allOf', 'oneOf', 'anyOf'] as const) {
    const parts = own(schema, kind)
    if (!Array.isArray(parts) || parts.length === 0) continue
    if (kind !== 'allOf') return exampleFor(document, parts[0], options, depth, seen)
    const merged: JsonObject = {}
    for (const part of parts) {
      const value = exampleFor(document, part, options, depth, seen)
      if (isObject(value)) Object.assign(merged, value)
      else if (value !== undefined) return value
    }
    return merged
  }
  const rawType = own(schema, 'type')
  const type = Array.isArray(rawType) ? rawType.find((t) => t !== 'null') : rawType
  const format = own(schema, 'format')
  switch (type) {
    case 'string': return typeof format === 'string' && Object.hasOwn(BY_FORMAT, format) ? BY_FORMAT[format] : 'string'
    case 'integer': return typeof own(schema, 'minimum') === 'number' ? own(schema, 'minimum') as number : 0
    case 'number': return typeof own(schema, 'minimum') === 'number' ? own(schema, 'minimum') as number : 0
    case 'boolean': return true
  }
  if (options.shallow === true) return undefined
  if (type === 'array' || own(schema, 'items') !== undefined) {
    const item = exampleFor(document, own(schema, 'items'), options, depth + 1, seen)
    return item === undefined ? [] : [item]
  }
  const properties = own(schema, 'properties')
  if (type === 'object' || isObject(properties)) {
    const value: JsonObject = {}
    for (const [name, property] of Object.entries(isObject(properties) ? properties : {}).slice(0, 50)) {
      if (isObject(property) && (own(property, 'readOnly') === true)) continue
      const made = exampleFor(document, property, options, depth + 1, seen)
      if (made !== undefined) value[name] = made
    }
    return value
  }
  return undefined
}
