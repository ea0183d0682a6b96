/**
 * Draws an API's reference from its OpenAPI document, once, when the document is saved (in a
 * worker thread): an overview, one view per operation and one per component schema, each stored
 * on its own so a page view reads and shows one of them. Descriptions are drawn from Markdown.
 *
 * Schemas are expanded where they are used, three levels deep; deeper levels and named schemas
 * past that depth are links to the named schema's own page, and each use has a budget of nodes.
 * So no page grows with the size of the document, only with one operation's.
 */
import { firstParagraph, markdownHtml } from './markdown'
import { exampleFor, exampleText } from './examples'
import { isObject, own, resolvePointer, type Json, type JsonObject } from './json'

export interface SchemaView {
  label: string
  /** A named component schema: its page. */
  ref?: string
  descriptionHtml?: string
  enum?: string[]
  facts?: string[]
  properties?: PropertyView[]
  items?: SchemaView
  additional?: SchemaView
  variants?: { kind: string, options: SchemaView[] }
  /** Not expanded here: `recursive` (it contains itself), `elsewhere` (see its own page), `deeper` (see `ref`'s page). */
  cut?: 'recursive' | 'elsewhere' | 'deeper'
}

export interface PropertyView { name: string, required: boolean, schema: SchemaView }
export interface ExampleView { name: string, value: string }
export interface ParameterView {
  name: string
  location: string
  required: boolean
  deprecated: boolean
  descriptionHtml: string
  schema?: SchemaView
  examples: ExampleView[]
  /** A value to fill in samples and the try-it form (an example, a default, the first of an enum), or null. */
  sample: string | null
  /** The document gives this value (an example or a default): samples send it even when the parameter is optional. */
  suggested: boolean
}
export interface MediaView {
  mediaType: string
  schema?: SchemaView
  examples: ExampleView[]
  /** Without an example in the document: one made from the schema (what mock answers send), when it is small. */
  generated?: string
}
export interface ResponseView { code: string, descriptionHtml: string, summary: string, headers: ParameterView[], contents: MediaView[] }

/** One way to satisfy an operation's security: every scheme named, with scopes. */
export type SecurityRequirement = Array<{ scheme: string, scopes: string[] }>

export interface OperationView {
  key: string
  method: string
  path: string
  summary: string
  descriptionHtml: string
  operationId: string
  deprecated: boolean
  tags: string[]
  parameters: ParameterView[]
  requestBody?: { required: boolean, descriptionHtml: string, contents: MediaView[] }
  responses: ResponseView[]
  /** Alternatives; empty: no credentials of the document's own. */
  security: SecurityRequirement[]
  /** The body that samples and the try-it form start from (an example, or one made from the schema). */
  sampleBody?: { mediaType: string, value: string }
}

export interface SecuritySchemeView {
  name: string
  type: string
  descriptionHtml: string
  /** apiKey: where and under which name. */
  in?: string
  parameterName?: string
  /** http: basic, bearer… */
  scheme?: string
  bearerFormat?: string
  flows?: Array<{ kind: string, authorizationUrl?: string, tokenUrl?: string, scopes: Array<[string, string]> }>
  openIdConnectUrl?: string
}

export interface TagSummary { name: string, descriptionHtml: string, count: number }

export interface ReferenceOverview {
  title: string
  version: string
  openapi: string
  /** The version the document was imported in, when it was converted (Swagger 2.0). */
  importedAs: string | null
  descriptionHtml: string
  /** The description's first paragraph, as plain text, for the catalog. */
  summary: string
  tags: TagSummary[]
  securitySchemes: SecuritySchemeView[]
  operationCount: number
  schemaCount: number
}

export interface DrawnOperation {
  key: string
  position: number
  method: string
  path: string
  summary: string
  operationId: string
  tags: string[]
  /** Lower-case text that search looks in: path, summary, operationId, description, tags. */
  searchText: string
  /** The drawn OperationView, as JSON: written out as it is drawn, so a large document's views are never all held as objects. */
  view: string
}

/** A component schema's drawn SchemaView, as JSON. */
export interface DrawnSchema { name: string, position: number, view: string }

export interface DrawnReference {
  overview: ReferenceOverview
  operations: DrawnOperation[]
  schemas: DrawnSchema[]
}

/** The tag of operations that have none. */
export const UNTAGGED = 'default'
export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

const LEVELS = 3
// Anonymous nesting with no named schema to link to is drawn further, up to this depth.
const MAX_DEPTH = 8
const NODES_PER_USE = 250
// Examples of one operation, in all: more are left out (the document has them).
const EXAMPLES_PER_OPERATION = 200_000
const TEXT_MAX = 20_000
// The longest tag and schema name stored (their columns' sizes); longer ones get no page of their own.
const TAG_MAX = 500
const SCHEMA_NAME_MAX = 1000

function text (value: Json | undefined, max = TEXT_MAX): string {
  if (typeof value !== 'string') return ''
  return value.length > max ? `${value.slice(0, max)}…` : value
}

const html = (value: Json | undefined): string => markdownHtml(text(value))

function refName (ref: string): string {
  const last = ref.split('/').pop() ?? ref
  try {
    return decodeURIComponent(last).replace(/~1/g, '/').replace(/~0/g, '~')
  } catch {
    return last
  }
}

const schemaRef = (name: string): string => `#/components/schemas/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`

interface Budget { left: number, examples: number }

/** The largest example made from a schema that a drawn response keeps (for mock answers). */
const GENERATED_EXAMPLE_MAX = 16 * 1024

export function drawReference (document: JsonObject, importedAs: string | null = null): DrawnReference {
  const components = own(document, 'components')
  const namedSchemas = isObject(components) ? own(components, 'schemas') : undefined
  const schemaNames = new Map<string, string>()
  if (isObject(namedSchemas)) for (const name of Object.keys(namedSchemas)) if (name.length <= SCHEMA_NAME_MAX) schemaNames.set(schemaRef(name), name)

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

  /**
   * `stack`: the named schemas being expanded, outermost first; `root`: the schema whose own page
   * this is (its deeper levels have no other page, so they are drawn here).
   */
  function expand (schema: Json | undefined, stack: string[], depth: number, budget: Budget, root: string | null): SchemaView {
    budget.left -= 1
    if (schema === true || schema === undefined) return { label: 'any' }
    if (schema === false) return { label: 'nothing (not allowed)' }
    if (!isObject(schema)) return { label: 'any' }
    const ref = own(schema, '$ref')
    if (typeof ref === 'string') {
      const name = schemaNames.get(ref)
      const label = name ?? refName(ref)
      const descriptionHtml = html(own(schema, 'description'))
      const described = descriptionHtml !== '' ? { descriptionHtml } : {}
      if (stack.includes(ref)) return { label, ...(name !== undefined ? { ref: name } : {}), cut: 'recursive', ...described }
      if (name !== undefined && (depth >= LEVELS || budget.left <= 0)) return { label, ref: name, cut: 'elsewhere', ...described }
      const target = resolvePointer(document, ref)
      if (target === undefined || depth >= MAX_DEPTH) return { label }
      const view = expand(target, [...stack, ref], depth, budget, root)
      return { ...view, label: view.label === 'object' ? label : `${label} (${view.label})`, ...(name !== undefined ? { ref: name } : {}), ...described }
    }
    const view: SchemaView = { label: typeLabel(schema) }
    if (depth >= LEVELS) {
      // Deeper levels: on the page of the named schema they belong to, unless this is that page.
      const owner = [...stack].reverse().map((r) => schemaNames.get(r)).find((n) => n !== undefined)
      if (owner !== undefined && owner !== root) return { ...view, ref: owner, cut: 'deeper' }
      if (depth >= MAX_DEPTH) return view
    }
    const descriptionHtml = html(own(schema, 'description'))
    if (descriptionHtml !== '') view.descriptionHtml = descriptionHtml
    const facts = schemaFacts(schema)
    if (facts.length > 0) view.facts = facts
    const enumValues = own(schema, 'enum')
    const constValue = own(schema, 'const')
    if (Array.isArray(enumValues)) view.enum = enumValues.slice(0, 200).map((v) => typeof v === 'string' ? v : JSON.stringify(v))
    else if (constValue !== undefined) view.enum = [typeof constValue === 'string' ? constValue : JSON.stringify(constValue)]

    const properties = own(schema, 'properties')
    if (isObject(properties)) view.properties = propertiesOf(properties, own(schema, 'required'), stack, depth, budget, root)
    const items = own(schema, 'items')
    if (items !== undefined && !Array.isArray(items)) {
      view.items = expand(items, stack, depth + 1, budget, root)
      view.label = `array of ${view.items.label}`
    }
    const additional = own(schema, 'additionalProperties')
    if (isObject(additional) && Object.keys(additional).length > 0) view.additional = expand(additional, stack, depth + 1, budget, root)

    for (const kind of ['allOf', 'oneOf', 'anyOf'] as const) {
      const parts = own(schema, kind)
      if (!Array.isArray(parts) || parts.length === 0) continue
      // The parts of allOf are the same value, so no deeper; oneOf/anyOf alternatives are one level in.
      const options = parts.slice(0, 50).map((part) => expand(part, stack, kind === 'allOf' ? depth : depth + 1, budget, root))
      if (kind === 'allOf' && options.every((o) => o.variants === undefined && o.cut === undefined && (o.properties !== undefined || o.label === 'object' || o.ref !== undefined))) {
        // All of several objects is one object with all their properties.
        const merged = new Map<string, PropertyView>()
        for (const option of [...options, view]) for (const p of option.properties ?? []) merged.set(p.name, p)
        view.properties = [...merged.values()]
        view.label = 'object'
        view.descriptionHtml ??= options.find((o) => o.descriptionHtml !== undefined)?.descriptionHtml
        if (view.descriptionHtml === undefined) delete view.descriptionHtml
        continue
      }
      view.variants = { kind: kind === 'allOf' ? 'all of' : kind === 'oneOf' ? 'one of' : 'any of', options }
      if (view.label === 'any') view.label = view.variants.kind
    }
    return view
  }

  function propertiesOf (properties: JsonObject, required: Json | undefined, stack: string[], depth: number, budget: Budget, root: string | null): PropertyView[] {
    const requiredNames = new Set(Array.isArray(required) ? required.filter((r): r is string => typeof r === 'string') : [])
    const views: PropertyView[] = []
    const names = Object.keys(properties)
    for (const name of names) {
      if (budget.left <= 0) {
        const owner = [...stack].reverse().map((r) => schemaNames.get(r)).find((n) => n !== undefined)
        views.push({ name: '…', required: false, schema: { label: `${names.length - views.length} more properties`, ...(owner !== undefined && owner !== root ? { ref: owner, cut: 'elsewhere' as const } : {}) } })
        break
      }
      views.push({ name, required: requiredNames.has(name), schema: expand(properties[name], stack, depth + 1, budget, root) })
    }
    return views
  }

  function examplesOf (holder: JsonObject, schema: Json | undefined, budget: Budget): ExampleView[] {
    const found: ExampleView[] = []
    const single = own(holder, 'example')
    if (single !== undefined) found.push({ name: 'Example', value: exampleText(single) })
    const many = own(holder, 'examples')
    if (isObject(many)) {
      for (const [name, raw] of Object.entries(many).slice(0, 20)) {
        const example = deref(raw)
        if (example === undefined) continue
        const value = own(example, 'value')
        const summary = text(own(example, 'summary'), 200)
        if (value !== undefined) found.push({ name: summary !== '' ? summary : name, value: exampleText(value) })
        else if (typeof own(example, 'externalValue') === 'string') found.push({ name, value: `(kept at ${text(own(example, 'externalValue'), 2000)})` })
      }
    }
    if (found.length === 0) {
      const target = isObject(schema) && typeof own(schema, '$ref') === 'string' ? resolvePointer(document, own(schema, '$ref') as string) : schema
      const schemaExample = isObject(target) ? own(target, 'example') ?? (Array.isArray(own(target, 'examples')) ? (own(target, 'examples') as Json[])[0] : undefined) : undefined
      if (schemaExample !== undefined) found.push({ name: 'Example', value: exampleText(schemaExample) })
    }
    return found.map((e) => {
      if (e.value.length <= budget.examples) {
        budget.examples -= e.value.length
        return e
      }
      return { name: e.name, value: '(This example is too long to show here: it is in the document, which you can download from the API\'s page.)' }
    })
  }

  function contentsOf (content: Json | undefined, budget: Budget): MediaView[] {
    if (!isObject(content)) return []
    return Object.entries(content).slice(0, 20).map(([mediaType, raw]) => {
      const media = isObject(raw) ? raw : {}
      const schema = own(media, 'schema')
      const view: MediaView = { mediaType, schema: schemaOf(schema, budget), examples: examplesOf(media, schema, budget) }
      if (view.examples.length === 0 && schema !== undefined) {
        const made = exampleFor(document, schema)
        const text = made === undefined ? '' : exampleText(made)
        if (text !== '' && text.length <= GENERATED_EXAMPLE_MAX && text.length <= budget.examples) {
          budget.examples -= text.length
          view.generated = text
        }
      }
      return view
    })
  }

  function schemaOf (value: Json | undefined, budget: Budget): SchemaView | undefined {
    if (value === undefined) return undefined
    const use = { left: NODES_PER_USE, examples: budget.examples }
    return expand(value, [], 0, use, null)
  }

  function parameterOf (raw: Json | undefined, budget: Budget): ParameterView | undefined {
    const p = deref(raw)
    if (p === undefined) return undefined
    const schema = own(p, 'schema') ?? (isObject(own(p, 'content')) ? Object.values(own(p, 'content') as JsonObject).map((m) => isObject(m) ? own(m, 'schema') : undefined)[0] : undefined)
    const examples = examplesOf(p, schema, budget)
    return {
      name: text(own(p, 'name'), 200),
      location: text(own(p, 'in'), 20),
      required: own(p, 'required') === true || own(p, 'in') === 'path',
      deprecated: own(p, 'deprecated') === true,
      descriptionHtml: html(own(p, 'description')),
      schema: schemaOf(schema, budget),
      examples,
      sample: parameterSample(p, schema),
      suggested: own(p, 'example') !== undefined || isObject(own(p, 'examples')) || explicitValue(schema)
    }
  }

  function explicitValue (schema: Json | undefined): boolean {
    const target = isObject(schema) && typeof own(schema, '$ref') === 'string' ? resolvePointer(document, own(schema, '$ref') as string) : schema
    return isObject(target) && (own(target, 'example') !== undefined || own(target, 'default') !== undefined)
  }

  function parameterSample (p: JsonObject, schema: Json | undefined): string | null {
    const value = own(p, 'example') ?? firstExampleValue(own(p, 'examples')) ?? exampleFor(document, schema, { shallow: true })
    if (value === undefined || value === null || typeof value === 'object') return null
    return String(value).slice(0, 500)
  }

  function firstExampleValue (examples: Json | undefined): Json | undefined {
    if (!isObject(examples)) return undefined
    for (const raw of Object.values(examples)) {
      const value = own(deref(raw) ?? {}, 'value')
      if (value !== undefined) return value
    }
    return undefined
  }

  function headersOf (headers: Json | undefined, budget: Budget): ParameterView[] {
    if (!isObject(headers)) return []
    return Object.entries(headers).slice(0, 50).flatMap(([name, raw]) => {
      const header = parameterOf(raw, budget)
      return header === undefined ? [] : [{ ...header, name, location: 'header' }]
    })
  }

  function securityOf (value: Json | undefined): SecurityRequirement[] {
    if (!Array.isArray(value)) return []
    return value.filter(isObject).slice(0, 20).map((requirement) => Object.entries(requirement).map(([scheme, scopes]) => ({
      scheme, scopes: Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string').slice(0, 50) : []
    })))
  }

  const tagInfo = new Map<string, TagSummary>()
  const declaredTags = own(document, 'tags')
  if (Array.isArray(declaredTags)) {
    for (const tag of declaredTags) {
      if (!isObject(tag) || typeof own(tag, 'name') !== 'string') continue
      const name = own(tag, 'name') as string
      if (!tagInfo.has(name)) tagInfo.set(name, { name, descriptionHtml: html(own(tag, 'description')), count: 0 })
    }
  }

  const globalSecurity = securityOf(own(document, 'security'))
  const operations: DrawnOperation[] = []
  const keys = new Set<string>()
  const paths = own(document, 'paths')
  for (const [path, rawItem] of Object.entries(isObject(paths) ? paths : {})) {
    const item = deref(rawItem)
    if (item === undefined) continue
    const shared = Array.isArray(own(item, 'parameters')) ? own(item, 'parameters') as Json[] : []
    for (const method of METHODS) {
      const op = own(item, method)
      if (!isObject(op)) continue
      const budget: Budget = { left: NODES_PER_USE, examples: EXAMPLES_PER_OPERATION }
      const byKey = new Map<string, ParameterView>()
      for (const raw of [...shared, ...(Array.isArray(own(op, 'parameters')) ? own(op, 'parameters') as Json[] : [])]) {
        const parameter = parameterOf(raw, budget)
        if (parameter !== undefined) byKey.set(`${parameter.location}:${parameter.name}`, parameter)
      }
      const body = deref(own(op, 'requestBody'))
      const contents = body === undefined ? [] : contentsOf(own(body, 'content'), budget)
      const responses = own(op, 'responses')
      const operationId = text(own(op, 'operationId'), 200)
      const upper = method.toUpperCase()
      // Keys fit their column (2,200): an absurdly long path is cut, with the position to keep it unique.
      const byPath = path.length > 2000 ? `${upper} ${path.slice(0, 2000)}… ${operations.length + 1}` : `${upper} ${path}`
      let key = operationId !== '' && !keys.has(operationId) ? operationId : byPath
      if (keys.has(key)) key = `${byPath} ${operations.length + 1}`
      keys.add(key)
      const rawTags = own(op, 'tags')
      const tags = Array.isArray(rawTags) ? [...new Set(rawTags.filter((t): t is string => typeof t === 'string' && t !== '' && t.length <= TAG_MAX))].slice(0, 20) : []
      if (tags.length === 0) tags.push(UNTAGGED)
      const view: OperationView = {
        key,
        method: upper,
        path,
        summary: text(own(op, 'summary'), 500),
        descriptionHtml: html(own(op, 'description')),
        operationId,
        deprecated: own(op, 'deprecated') === true,
        tags,
        parameters: [...byKey.values()],
        responses: Object.entries(isObject(responses) ? responses : {}).slice(0, 100).map(([code, raw]) => {
          const response = deref(raw) ?? {}
          const description = text(own(response, 'description'))
          return { code, summary: firstParagraph(description, 200), descriptionHtml: markdownHtml(description), headers: headersOf(own(response, 'headers'), budget), contents: contentsOf(own(response, 'content'), budget) }
        }),
        security: own(op, 'security') !== undefined ? securityOf(own(op, 'security')) : globalSecurity
      }
      if (body !== undefined) view.requestBody = { required: own(body, 'required') === true, descriptionHtml: html(own(body, 'description')), contents }
      const sampleBody = bodySample(own(body ?? {}, 'content'), contents)
      if (sampleBody !== undefined) view.sampleBody = sampleBody
      for (const tag of tags) {
        const info = tagInfo.get(tag) ?? { name: tag, descriptionHtml: '', count: 0 }
        info.count += 1
        tagInfo.set(tag, info)
      }
      const description = text(own(op, 'description'))
      operations.push({
        key, position: operations.length + 1, method: upper, path, summary: view.summary, operationId, tags,
        searchText: [path, view.summary, operationId, tags.join(' '), description].join('\n').toLowerCase(),
        view: JSON.stringify(view)
      })
    }
  }

  /** The body samples start from: the first example of a JSON (or any) media type, else one made from its schema. */
  function bodySample (content: Json | undefined, contents: MediaView[]): { mediaType: string, value: string } | undefined {
    if (contents.length === 0 || !isObject(content)) return undefined
    const preferred = contents.find((c) => /json/i.test(c.mediaType)) ?? contents[0]
    const shown = preferred.examples.find((e) => !e.value.startsWith('(This example is too long') && !e.value.startsWith('(kept at'))
    if (shown !== undefined) return { mediaType: preferred.mediaType, value: shown.value }
    const media = own(content, preferred.mediaType)
    const made = exampleFor(document, isObject(media) ? own(media, 'schema') : undefined)
    if (made === undefined) return undefined
    return { mediaType: preferred.mediaType, value: exampleText(made) }
  }

  // A name longer than its column (1,000) is drawn where it is used, without a page of its own.
  const schemas: DrawnSchema[] = isObject(namedSchemas)
    ? Object.keys(namedSchemas).filter((name) => name.length <= SCHEMA_NAME_MAX).map((name, i) => ({
      name, position: i + 1, view: JSON.stringify(expand(namedSchemas[name], [schemaRef(name)], 0, { left: NODES_PER_USE * 4, examples: EXAMPLES_PER_OPERATION }, name))
    }))
    : []

  const info = isObject(own(document, 'info')) ? own(document, 'info') as JsonObject : {}
  const description = text(own(info, 'description'))
  return {
    overview: {
      title: text(own(info, 'title'), 500),
      version: text(own(info, 'version'), 100),
      openapi: text(own(document, 'openapi'), 20),
      importedAs,
      descriptionHtml: markdownHtml(description),
      summary: firstParagraph(description),
      tags: [...tagInfo.values()].filter((t) => t.count > 0),
      securitySchemes: securitySchemesOf(isObject(components) ? own(components, 'securitySchemes') : undefined, deref),
      operationCount: operations.length,
      schemaCount: schemas.length
    },
    operations,
    schemas
  }
}

function securitySchemesOf (value: Json | undefined, deref: (v: Json | undefined) => JsonObject | undefined): SecuritySchemeView[] {
  if (!isObject(value)) return []
  return Object.entries(value).slice(0, 50).flatMap(([name, raw]) => {
    const s = deref(raw)
    if (s === undefined) return []
    const view: SecuritySchemeView = { name, type: text(own(s, 'type'), 50), descriptionHtml: html(own(s, 'description')) }
    if (view.type === 'apiKey') {
      view.in = text(own(s, 'in'), 20)
      view.parameterName = text(own(s, 'name'), 200)
    }
    if (view.type === 'http') {
      view.scheme = text(own(s, 'scheme'), 50).toLowerCase()
      if (typeof own(s, 'bearerFormat') === 'string') view.bearerFormat = text(own(s, 'bearerFormat'), 100)
    }
    const flows = own(s, 'flows')
    if (view.type === 'oauth2' && isObject(flows)) {
      view.flows = Object.entries(flows).filter(([, f]) => isObject(f)).map(([kind, f]) => {
        const flow = f as JsonObject
        const scopes = own(flow, 'scopes')
        return {
          kind,
          ...(typeof own(flow, 'authorizationUrl') === 'string' ? { authorizationUrl: text(own(flow, 'authorizationUrl'), 2000) } : {}),
          ...(typeof own(flow, 'tokenUrl') === 'string' ? { tokenUrl: text(own(flow, 'tokenUrl'), 2000) } : {}),
          scopes: isObject(scopes) ? Object.entries(scopes).slice(0, 100).map(([scope, d]): [string, string] => [scope, text(d, 500)]) : []
        }
      })
    }
    if (view.type === 'openIdConnect') view.openIdConnectUrl = text(own(s, 'openIdConnectUrl'), 2000)
    return [view]
  })
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
