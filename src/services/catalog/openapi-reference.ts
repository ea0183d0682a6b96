/**
 * The reference page of an API, drawn on the server from its OpenAPI document: every operation with
 * its parameters, request body and responses, schemas as nested tables, examples. Built once when
 * the document is saved and stored as JSON, so a page view only reads it.
 *
 * Schemas are expanded where they are used, with limits: a `$ref` already being expanded (a
 * recursive schema), one nested too deep or past the per-use budget is shown as a link to the
 * named schema's own section instead. So the page grows with the document, never exponentially.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

export interface SchemaLink { name: string, anchor: string }

export interface SchemaView {
  label: string
  ref?: SchemaLink
  description?: string
  enum?: string[]
  facts?: string[]
  properties?: PropertyView[]
  items?: SchemaView
  additional?: SchemaView
  variants?: { kind: string, options: SchemaView[] }
  /** Not expanded here: `recursive` (it contains itself) or `elsewhere` (see its own section). */
  cut?: 'recursive' | 'elsewhere'
}

export interface PropertyView { name: string, required: boolean, schema: SchemaView }
export interface ExampleView { name: string, value: string }
export interface ParameterView { name: string, location: string, required: boolean, deprecated: boolean, description: string, schema?: SchemaView, examples: ExampleView[] }
export interface MediaView { mediaType: string, schema?: SchemaView, examples: ExampleView[] }
export interface ResponseView { code: string, description: string, headers: ParameterView[], contents: MediaView[] }

export interface OperationView {
  anchor: string
  method: string
  path: string
  summary: string
  description: string
  operationId: string
  deprecated: boolean
  parameters: ParameterView[]
  requestBody?: { required: boolean, description: string, contents: MediaView[] }
  responses: ResponseView[]
  /** The first example request body, for the curl line. */
  sampleBody?: { mediaType: string, value: string }
}

export interface TagView { name: string, anchor: string, description: string, operations: OperationView[] }

export interface ApiReference {
  title: string
  version: string
  openapi: string
  description: string
  tags: TagView[]
  schemas: Array<{ name: string, anchor: string, schema: SchemaView }>
  operationCount: number
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const
const MAX_DEPTH = 8
// A named schema is drawn in full in its own section; where it is used, it is expanded only this
// deep (and within this many nodes), then linked. This keeps the page linear in the document.
const REF_DEPTH = 3
const NODES_PER_USE = 120
const EXAMPLE_MAX = 20_000
const TEXT_MAX = 20_000

function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function own (object: JsonObject, key: string): Json | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined
}

function text (value: Json | undefined, max = TEXT_MAX): string {
  if (typeof value !== 'string') return ''
  return value.length > max ? `${value.slice(0, max)}…` : value
}

/** A value shown as an example: strings as they are, anything else as indented JSON. */
export function exampleText (value: Json | undefined): string {
  const shown = typeof value === 'string' ? value : JSON.stringify(value, null, 2) ?? ''
  return shown.length > EXAMPLE_MAX ? `${shown.slice(0, EXAMPLE_MAX)}\n…` : shown
}

/** Follows a local JSON pointer (`#/components/schemas/Pet`); undefined when it leads nowhere. */
export function resolvePointer (document: JsonObject, ref: string): Json | undefined {
  if (!ref.startsWith('#')) return undefined
  let node: Json | undefined = document
  const tokens = ref.slice(1).split('/').slice(1)
  for (const raw of tokens) {
    let token: string
    try {
      token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~')
    } catch {
      return undefined
    }
    if (Array.isArray(node)) node = /^\d+$/.test(token) ? node[Number(token)] : undefined
    else if (isObject(node)) node = own(node, token)
    else return undefined
    if (node === undefined) return undefined
  }
  return node
}

function refName (ref: string): string {
  const last = ref.split('/').pop() ?? ref
  try {
    return decodeURIComponent(last).replace(/~1/g, '/').replace(/~0/g, '~')
  } catch {
    return last
  }
}

export function buildReference (document: JsonObject): ApiReference {
  const schemaAnchors = new Map<string, SchemaLink>()
  const components = own(document, 'components')
  const namedSchemas = isObject(components) ? own(components, 'schemas') : undefined
  if (isObject(namedSchemas)) {
    Object.keys(namedSchemas).forEach((name, i) => { schemaAnchors.set(`#/components/schemas/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`, { name, anchor: `schema-${i + 1}` }) })
  }

  /** Non-schema objects (parameters, responses, bodies, examples): follow `$ref`s to the object. */
  function deref (value: Json | undefined): JsonObject | undefined {
    let node = value
    for (let hops = 0; hops < 20 && isObject(node); hops++) {
      const ref = own(node, '$ref')
      if (typeof ref !== 'string') return node
      node = resolvePointer(document, ref)
    }
    return isObject(node) ? node : undefined
  }

  function linkFor (ref: string): SchemaLink | undefined {
    return schemaAnchors.get(ref)
  }

  function expand (schema: Json | undefined, stack: string[], depth: number, budget: { left: number }): SchemaView {
    budget.left -= 1
    if (schema === true || schema === undefined) return { label: 'any' }
    if (schema === false) return { label: 'nothing (not allowed)' }
    if (!isObject(schema)) return { label: 'any' }
    const ref = own(schema, '$ref')
    if (typeof ref === 'string') {
      const link = linkFor(ref)
      const label = link?.name ?? refName(ref)
      const description = text(own(schema, 'description'))
      if (stack.includes(ref)) return { label, ref: link, cut: 'recursive', ...(description !== '' ? { description } : {}) }
      if (link !== undefined && (depth >= REF_DEPTH || budget.left <= 0)) return { label, ref: link, cut: 'elsewhere' }
      const target = resolvePointer(document, ref)
      if (target === undefined || depth >= MAX_DEPTH) return { label }
      const view = expand(target, [...stack, ref], depth, budget)
      return { ...view, label: view.label === 'object' ? label : `${label} (${view.label})`, ref: link, ...(description !== '' ? { description } : {}) }
    }
    if (depth >= MAX_DEPTH) return { label: typeLabel(schema) }

    const view: SchemaView = { label: typeLabel(schema) }
    const description = text(own(schema, 'description'))
    if (description !== '') view.description = description
    const facts = schemaFacts(schema)
    if (facts.length > 0) view.facts = facts
    const enumValues = own(schema, 'enum')
    const constValue = own(schema, 'const')
    if (Array.isArray(enumValues)) view.enum = enumValues.slice(0, 200).map((v) => typeof v === 'string' ? v : JSON.stringify(v))
    else if (constValue !== undefined) view.enum = [typeof constValue === 'string' ? constValue : JSON.stringify(constValue)]

    const properties = own(schema, 'properties')
    if (isObject(properties)) view.properties = propertiesOf(properties, own(schema, 'required'), stack, depth, budget)
    const items = own(schema, 'items')
    if (items !== undefined && !Array.isArray(items)) {
      view.items = expand(items, stack, depth + 1, budget)
      view.label = `array of ${view.items.label}`
    }
    const additional = own(schema, 'additionalProperties')
    if (isObject(additional) && Object.keys(additional).length > 0) view.additional = expand(additional, stack, depth + 1, budget)

    for (const kind of ['allOf', 'oneOf', 'anyOf'] as const) {
      const parts = own(schema, kind)
      if (!Array.isArray(parts) || parts.length === 0) continue
      // The parts of allOf are the same value, so no deeper; oneOf/anyOf alternatives are one level in.
      const options = parts.slice(0, 50).map((part) => expand(part, stack, kind === 'allOf' ? depth : depth + 1, budget))
      if (kind === 'allOf' && options.every((o) => o.variants === undefined && o.cut === undefined && (o.properties !== undefined || o.label === 'object' || o.ref !== undefined))) {
        // All of several objects is one object with all their properties.
        const merged = new Map<string, PropertyView>()
        for (const option of [...options, view]) for (const p of option.properties ?? []) merged.set(p.name, p)
        view.properties = [...merged.values()]
        view.label = 'object'
        view.description ??= options.find((o) => o.description !== undefined)?.description
        if (view.description === undefined) delete view.description
        continue
      }
      view.variants = { kind: kind === 'allOf' ? 'all of' : kind === 'oneOf' ? 'one of' : 'any of', options }
      if (view.label === 'any') view.label = view.variants.kind
    }
    return view
  }

  function propertiesOf (properties: JsonObject, required: Json | undefined, stack: string[], depth: number, budget: { left: number }): PropertyView[] {
    const requiredNames = new Set(Array.isArray(required) ? required.filter((r): r is string => typeof r === 'string') : [])
    const views: PropertyView[] = []
    for (const name of Object.keys(properties)) {
      if (budget.left <= 0) {
        views.push({ name: '…', required: false, schema: { label: `${Object.keys(properties).length - views.length} more properties: see the schemas below` } })
        break
      }
      views.push({ name, required: requiredNames.has(name), schema: expand(properties[name], stack, depth + 1, budget) })
    }
    return views
  }

  const schemaOf = (value: Json | undefined): SchemaView | undefined => value === undefined ? undefined : expand(value, [], 0, { left: NODES_PER_USE })

  function examplesOf (holder: JsonObject, schema: Json | undefined): ExampleView[] {
    const examples: ExampleView[] = []
    const single = own(holder, 'example')
    if (single !== undefined) examples.push({ name: 'Example', value: exampleText(single) })
    const many = own(holder, 'examples')
    if (isObject(many)) {
      for (const [name, raw] of Object.entries(many).slice(0, 20)) {
        const example = deref(raw)
        if (example === undefined) continue
        const value = own(example, 'value')
        const summary = text(own(example, 'summary'), 200)
        if (value !== undefined) examples.push({ name: summary !== '' ? summary : name, value: exampleText(value) })
        else if (typeof own(example, 'externalValue') === 'string') examples.push({ name, value: `(kept at ${text(own(example, 'externalValue'), 2000)})` })
      }
    }
    if (examples.length === 0) {
      const target = isObject(schema) && typeof own(schema, '$ref') === 'string' ? resolvePointer(document, own(schema, '$ref') as string) : schema
      const schemaExample = isObject(target) ? own(target, 'example') ?? (Array.isArray(own(target, 'examples')) ? (own(target, 'examples') as Json[])[0] : undefined) : undefined
      if (schemaExample !== undefined) examples.push({ name: 'Example', value: exampleText(schemaExample) })
    }
    return examples
  }

  function contentsOf (content: Json | undefined): MediaView[] {
    if (!isObject(content)) return []
    return Object.entries(content).map(([mediaType, raw]) => {
      const media = isObject(raw) ? raw : {}
      const schema = own(media, 'schema')
      return { mediaType, schema: schemaOf(schema), examples: examplesOf(media, schema) }
    })
  }

  function parameterOf (raw: Json | undefined): ParameterView | undefined {
    const p = deref(raw)
    if (p === undefined) return undefined
    const schema = own(p, 'schema') ?? (isObject(own(p, 'content')) ? Object.values(own(p, 'content') as JsonObject).map((m) => isObject(m) ? own(m, 'schema') : undefined)[0] : undefined)
    return {
      name: text(own(p, 'name'), 200),
      location: text(own(p, 'in'), 20),
      required: own(p, 'required') === true || own(p, 'in') === 'path',
      deprecated: own(p, 'deprecated') === true,
      description: text(own(p, 'description')),
      schema: schemaOf(schema),
      examples: examplesOf(p, schema)
    }
  }

  function headersOf (headers: Json | undefined): ParameterView[] {
    if (!isObject(headers)) return []
    return Object.entries(headers).flatMap(([name, raw]) => {
      const header = parameterOf(raw)
      return header === undefined ? [] : [{ ...header, name, location: 'header' }]
    })
  }

  const tagOrder = new Map<string, TagView>()
  const declaredTags = own(document, 'tags')
  if (Array.isArray(declaredTags)) {
    for (const tag of declaredTags) {
      if (!isObject(tag) || typeof own(tag, 'name') !== 'string') continue
      const name = own(tag, 'name') as string
      if (!tagOrder.has(name)) tagOrder.set(name, { name, anchor: '', description: text(own(tag, 'description')), operations: [] })
    }
  }

  let operationCount = 0
  const paths = own(document, 'paths')
  for (const [path, rawItem] of Object.entries(isObject(paths) ? paths : {})) {
    const item = deref(rawItem)
    if (item === undefined) continue
    const shared = Array.isArray(own(item, 'parameters')) ? own(item, 'parameters') as Json[] : []
    for (const method of METHODS) {
      const op = own(item, method)
      if (!isObject(op)) continue
      operationCount += 1
      const byKey = new Map<string, ParameterView>()
      for (const raw of [...shared, ...(Array.isArray(own(op, 'parameters')) ? own(op, 'parameters') as Json[] : [])]) {
        const parameter = parameterOf(raw)
        if (parameter !== undefined) byKey.set(`${parameter.location}:${parameter.name}`, parameter)
      }
      const body = deref(own(op, 'requestBody'))
      const contents = body === undefined ? [] : contentsOf(own(body, 'content'))
      const responses = own(op, 'responses')
      const operation: OperationView = {
        anchor: `op-${operationCount}`,
        method: method.toUpperCase(),
        path,
        summary: text(own(op, 'summary'), 500),
        description: text(own(op, 'description')),
        operationId: text(own(op, 'operationId'), 200),
        deprecated: own(op, 'deprecated') === true,
        parameters: [...byKey.values()],
        responses: Object.entries(isObject(responses) ? responses : {}).map(([code, raw]) => {
          const response = deref(raw) ?? {}
          return { code, description: text(own(response, 'description')), headers: headersOf(own(response, 'headers')), contents: contentsOf(own(response, 'content')) }
        })
      }
      if (body !== undefined) operation.requestBody = { required: own(body, 'required') === true, description: text(own(body, 'description')), contents }
      const sample = contents.find((c) => c.examples.length > 0)
      if (sample !== undefined) operation.sampleBody = { mediaType: sample.mediaType, value: sample.examples[0].value }
      const tags = own(op, 'tags')
      const tagName = Array.isArray(tags) && typeof tags[0] === 'string' ? tags[0] : 'Other operations'
      const tag = tagOrder.get(tagName) ?? { name: tagName, anchor: '', description: '', operations: [] }
      tagOrder.set(tagName, tag)
      tag.operations.push(operation)
    }
  }

  const tags = [...tagOrder.values()].filter((t) => t.operations.length > 0).map((t, i) => ({ ...t, anchor: `tag-${i + 1}` }))
  const info = isObject(own(document, 'info')) ? own(document, 'info') as JsonObject : {}
  return {
    title: text(own(info, 'title'), 500),
    version: text(own(info, 'version'), 100),
    openapi: text(own(document, 'openapi'), 20),
    description: text(own(info, 'description')),
    tags,
    schemas: isObject(namedSchemas)
      ? Object.keys(namedSchemas).map((name, i) => {
        const ref = `#/components/schemas/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`
        return { name, anchor: `schema-${i + 1}`, schema: expand(namedSchemas[name], [ref], 0, { left: NODES_PER_USE }) }
      })
      : [],
    operationCount
  }
}

function typeLabel (schema: JsonObject): string {
  const type = own(schema, 'type')
  const format = own(schema, 'format')
  let label = Array.isArray(type) ? type.filter((t) => typeof t === 'string').join(' or ') : typeof type === 'string' ? type : ''
  if (label === '') label = isObject(own(schema, 'properties')) ? 'object' : own(schema, 'items') !== undefined ? 'array' : 'any'
  return typeof format === 'string' ? `${label} (${format.slice(0, 50)})` : label
}

const FACTS: Array<[string, string]> = [
  ['default', 'default'], ['minimum', 'minimum'], ['maximum', 'maximum'], ['exclusiveMinimum', 'more than'], ['exclusiveMaximum', 'less than'],
  ['multipleOf', 'multiple of'], ['minLength', 'min length'], ['maxLength', 'max length'], ['pattern', 'pattern'], ['minItems', 'min items'],
  ['maxItems', 'max items'], ['minProperties', 'min properties'], ['maxProperties', 'max properties'], ['example', 'example']
]

function schemaFacts (schema: JsonObject): string[] {
  const facts: string[] = []
  for (const [key, label] of FACTS) {
    const value = own(schema, key)
    if (value === undefined || typeof value === 'boolean') continue
    const shown = typeof value === 'string' ? value : JSON.stringify(value)
    facts.push(`${label}: ${shown.length > 200 ? `${shown.slice(0, 200)}…` : shown}`)
  }
  if (own(schema, 'nullable') === true) facts.push('nullable')
  if (own(schema, 'uniqueItems') === true) facts.push('unique items')
  if (own(schema, 'readOnly') === true) facts.push('read-only')
  if (own(schema, 'writeOnly') === true) facts.push('write-only')
  if (own(schema, 'deprecated') === true) facts.push('deprecated')
  const discriminator = own(schema, 'discriminator')
  if (isObject(discriminator) && typeof own(discriminator, 'propertyName') === 'string') facts.push(`discriminator: ${own(discriminator, 'propertyName') as string}`)
  return facts
}

/** The curl line of an operation, through the gateway, with the subscription key header. */
export function curlLine (gatewayUrl: string, apiPath: string, operation: Pick<OperationView, 'method' | 'path' | 'sampleBody'>): string {
  return curlCommand(`${gatewayUrl}/${apiPath}${operation.path}`, 'Ocp-Apim-Subscription-Key: <your key>', operation)
}

/** A curl line for one operation at `url`, with one credential header, and its sample body. */
export function curlCommand (url: string, header: string, operation: Pick<OperationView, 'method' | 'sampleBody'>): string {
  const quote = (value: string): string => `'${value.replace(/'/g, "'\\''")}'`
  const parts = [`curl -X ${operation.method} ${quote(url)}`, `-H ${quote(header)}`]
  if (operation.sampleBody !== undefined) {
    parts.push(`-H ${quote(`Content-Type: ${operation.sampleBody.mediaType}`)}`)
    parts.push(`--data ${quote(operation.sampleBody.value)}`)
  }
  return parts.join(' \\\n  ')
}

/** Operations drawn on one page: a long reference is read in parts, so no page view draws thousands. */
export const OPERATIONS_PER_PAGE = 100

export interface ReferencePage {
  /** The tags with only this page's operations (tags without any are left out). */
  tags: TagView[]
  page: number
  pages: number
  /** The page each operation is drawn on, by anchor, for the contents list's links. */
  pageOf: Record<string, number>
}

/** One page of a reference: its operations in document order, `OPERATIONS_PER_PAGE` at a time. */
export function referencePage (reference: ApiReference, requested: number | undefined): ReferencePage {
  const pages = Math.max(1, Math.ceil(reference.operationCount / OPERATIONS_PER_PAGE))
  const page = Math.min(Math.max(1, requested ?? 1), pages)
  const pageOf: Record<string, number> = {}
  let index = 0
  const tags: TagView[] = []
  for (const tag of reference.tags) {
    const shown: OperationView[] = []
    for (const operation of tag.operations) {
      const onPage = Math.floor(index / OPERATIONS_PER_PAGE) + 1
      pageOf[operation.anchor] = onPage
      if (onPage === page) shown.push(operation)
      index += 1
    }
    if (shown.length > 0) tags.push({ ...tag, operations: shown })
  }
  return { tags, page, pages, pageOf }
}
