import { validate, type ParserOptions } from '@readme/openapi-parser'
import { parseDocument } from 'yaml'
import { Invalid, TooLarge } from '../errors'
import { inputProblem } from '../input-rules'
import { buildReference, resolvePointer, type ApiReference } from './openapi-reference'

/** The largest OpenAPI document accepted, in bytes. */
export const OPENAPI_MAX_BYTES = 10 * 1024 * 1024

export type OpenApiFormat = 'json' | 'yaml'

export interface ImportedDocument {
  /** The document as imported, byte for byte. */
  text: string
  format: OpenApiFormat
  reference: ApiReference
}

type JsonObject = { [key: string]: unknown }

// `$ref`s are followed inside the document only: never a URL, never a file.
const PARSER_OPTIONS: ParserOptions = { resolve: { external: false, file: false }, validate: { errors: { colorize: false } } }

function refuse (message: string, line: number | null = null): Invalid {
  return new Invalid({ openapi: line === null ? message : `Line ${line}: ${message}` })
}

function lineAt (text: string, offset: number): number {
  let line = 1
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++
  return line
}

/** The first line holding every one of `needles`, or null. */
function lineHolding (text: string, ...needles: string[]): number | null {
  const lines = text.split('\n')
  const index = lines.findIndex((line) => needles.every((n) => line.includes(n)))
  return index === -1 ? null : index + 1
}

/**
 * An uploaded document's text: UTF-8 (a byte-order mark dropped), or UTF-16 with its byte-order
 * mark (as some editors on Windows save). Anything else is refused, saying what the file is.
 */
export function documentFromBytes (bytes: Buffer): string {
  if (bytes[0] === 0xFF && bytes[1] === 0xFE) return new TextDecoder('utf-16le').decode(bytes.subarray(2))
  if (bytes[0] === 0xFE && bytes[1] === 0xFF) return new TextDecoder('utf-16be').decode(bytes.subarray(2))
  const head = bytes.subarray(0, 64)
  if (head.length >= 4 && head.filter((b) => b === 0).length >= head.length / 4) {
    throw refuse('this file looks like UTF-16 text without a byte-order mark. Save the document as UTF-8, then upload it again.')
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '')
  } catch {
    throw refuse('this file is not UTF-8 text (it may be a binary file, or text in another encoding). Save the document as UTF-8, then upload it again.')
  }
}

function parseText (text: string): { value: unknown, format: OpenApiFormat } {
  if (/^\s*[{[]/.test(text)) {
    try {
      return { value: JSON.parse(text), format: 'json' }
    } catch (err) {
      const position = /position (\d+)/.exec((err as Error).message)
      const line = position === null ? null : lineAt(text, Number(position[1]))
      const reason = (err as Error).message.replace(/ in JSON at position \d+.*$/, '').replace(/, ".*" is not valid JSON$/, '')
      throw refuse(`this is not valid JSON (${reason}).`, line)
    }
  }
  const parsed = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (parsed.errors.length > 0) {
    const first = parsed.errors[0]
    const reason = first.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
    throw refuse(`this is not valid YAML or JSON (${reason}).`, first.linePos?.[0].line ?? null)
  }
  return { value: parsed.toJS({ maxAliasCount: 100 }), format: 'yaml' }
}

/** Every `$ref` that points outside the document. */
function externalRef (document: unknown): string | null {
  const stack: unknown[] = [document]
  while (stack.length > 0) {
    const node = stack.pop()
    if (Array.isArray(node)) {
      stack.push(...node)
    } else if (typeof node === 'object' && node !== null) {
      const ref = Object.hasOwn(node, '$ref') ? (node as JsonObject).$ref : undefined
      if (typeof ref === 'string' && !ref.startsWith('#')) return ref
      stack.push(...Object.values(node))
    }
  }
  return null
}

// Validation walks the document with every `$ref` replaced by its target: a few references used
// twice at each level would make that walk exponential (a "billion laughs"). Refused past this.
const EXPANDED_NODES_MAX = 2_000_000

/** How many values the document has once its (non-circular) references are expanded, up to `limit`. */
export function expandedSize (document: unknown, limit = EXPANDED_NODES_MAX): number {
  const sizes = new Map<string, number>()
  const expanding = new Set<string>()
  function size (node: unknown, depth: number): number {
    if (depth > 5_000) throw new RangeError('too deep')
    if (typeof node !== 'object' || node === null) return 1
    const ref = Object.hasOwn(node, '$ref') ? (node as JsonObject).$ref : undefined
    if (typeof ref === 'string' && ref.startsWith('#')) {
      const known = sizes.get(ref)
      if (known !== undefined) return known
      // A circular reference is left in place by the parser: it counts once.
      if (expanding.has(ref)) return 1
      expanding.add(ref)
      const target = resolvePointer(document as Parameters<typeof resolvePointer>[0], ref)
      const n = target === undefined ? 1 : size(target, depth + 1)
      expanding.delete(ref)
      sizes.set(ref, n)
      return n
    }
    let n = 1
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      n += size(child, depth + 1)
      if (n > limit) return n
    }
    return n
  }
  return size(document, 0)
}

/** The parser's first message, said briefly, with the line of the source it is about when we can find it. */
function validationProblem (text: string, messages: string[], more: number): Invalid {
  const message = messages[0] ?? 'The document is not a valid OpenAPI definition.'
  const [head, frame = ''] = message.split('\n\n')
  const marked = /^>\s*\d+\s*\|\s*(.*)$/m.exec(frame)?.[1]?.trim() ?? ''
  const explanation = /\^+\s*(?:☹️\s*)?(.+)$/m.exec(frame)?.[1]?.trim()
  let line: number | null = null
  const keyed = /^"([^"]+)"\s*:\s*(.*?),?$/.exec(marked)
  if (keyed !== null) {
    const value = keyed[2].replace(/^"|"$/g, '')
    line = (value !== '' && !/^[[{]/.test(value) ? lineHolding(text, keyed[1], value) : null) ?? lineHolding(text, keyed[1])
  }
  const pointer = /\$ref pointer "([^"]+)"/.exec(head)
  if (pointer !== null) line = lineHolding(text, pointer[1])
  const said = explanation !== undefined ? `${explanation.replace(/!$/, '.')} (${head.trim()})` : head.trim()
  const others = messages.length - 1 + more
  return refuse(`${said}${others > 0 ? ` There ${others === 1 ? 'is 1 more problem' : `are ${others} more problems`}.` : ''}`, line)
}

/**
 * Reads an OpenAPI 3.0 or 3.1 document (JSON or YAML), validates it with @readme/openapi-parser
 * and draws its reference. Bad input is an `Invalid` for the `openapi` field, saying what is
 * wrong and on which line; more than OPENAPI_MAX_BYTES is `TooLarge` (413).
 */
export async function importOpenApi (text: string): Promise<ImportedDocument> {
  if (Buffer.byteLength(text, 'utf8') > OPENAPI_MAX_BYTES) throw new TooLarge('The OpenAPI document is larger than 10 MB, the most Portico accepts.')
  const nul = text.indexOf('\u0000')
  if (nul !== -1) throw refuse('the document contains a NUL character, which no JSON or YAML document may hold. Remove it (or save the file as UTF-8 text), then try again.', lineAt(text, nul))
  try {
    const { value, format } = parseText(text)
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse('the document must be an OpenAPI object, starting with a line such as "openapi: 3.1.0".')
    // An escaped NUL (\u0000 in JSON, \0 in YAML) is one too, once parsed.
    const problem = inputProblem(value, 5_000)
    if (problem === 'nul') throw refuse('a value or a name in the document holds a NUL character (\\u0000), which Portico does not store. Remove it, then try again.')
    if (problem === 'depth') throw refuse('the document is nested too deeply to read.')
    const document = value as JsonObject
    const version = document.openapi
    if (typeof version !== 'string' || !/^3\.[01]\.\d+$/.test(version)) {
      if (document.swagger !== undefined) throw refuse('this is a Swagger 2.0 document. Portico imports OpenAPI 3.0 and 3.1: convert it first (for example with swagger2openapi).', lineHolding(text, 'swagger'))
      throw refuse('this is not an OpenAPI 3.0 or 3.1 document: it needs an "openapi" field such as 3.0.3 or 3.1.0.', lineHolding(text, 'openapi'))
    }
    const outside = externalRef(document)
    if (outside !== null) throw refuse(`the reference "${outside.slice(0, 200)}" points outside the document. Only references inside it (starting with #) are followed: Portico never fetches a URL or reads a file named by a document.`, lineHolding(text, outside))
    if (expandedSize(document) > EXPANDED_NODES_MAX) throw refuse('the document\'s references expand to more than 2 million values (a schema used several times at each of many levels). Simplify those references.')
    const result = await validate(structuredClone(document) as Parameters<typeof validate>[0], PARSER_OPTIONS)
    if (!result.valid) throw validationProblem(text, result.errors.map((e) => e.message), result.additionalErrors)
    return { text, format, reference: buildReference(document as Parameters<typeof buildReference>[0]) }
  } catch (err) {
    if (err instanceof Invalid || err instanceof TooLarge) throw err
    // The parser's own refusals (a reference it cannot follow, a structure too deep to walk).
    if (err instanceof RangeError) throw refuse('the document is nested too deeply to read.')
    throw refuse(`the document could not be read: ${(err as Error).message.split('\n')[0].slice(0, 300)}`)
  }
}
