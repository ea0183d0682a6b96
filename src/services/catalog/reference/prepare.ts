import { validate, type ParserOptions } from '@readme/openapi-parser'
import { parseDocument } from 'yaml'
import { convertObj } from 'swagger2openapi'
import { inputProblem } from '../../kernel/input-rules'
import { drawReference, METHODS, type DrawnReference } from './draw'
import { gatewayText } from './gateway-document'
import { isObject, own, pointerOf, resolvePointer, type Json, type JsonObject } from './json'
import { hasLineBreaks, lineAt, lineOf, pointerAtPrettyLine } from './locate'
import { DocumentProblem, type OpenApiFormat } from './problem'

export { DocumentProblem, type OpenApiFormat }


/** What a save stores: the drawn reference, and the document rewritten for the gateway. */
export interface PreparedDocument {
  format: OpenApiFormat
  reference: DrawnReference
  /** The gateway's document in JSON; its YAML is written out when first asked for. */
  gatewayJson: string
}

// `$ref`s are followed inside the document only: never a URL, never a file.
const PARSER_OPTIONS: ParserOptions = { resolve: { external: false, file: false }, validate: { errors: { colorize: false } } }

function parseText (text: string): { value: unknown, format: OpenApiFormat } {
  if (/^\s*[{[]/.test(text)) {
    try {
      return { value: JSON.parse(text), format: 'json' }
    } catch (err) {
      const position = /position (\d+)/.exec((err as Error).message)
      const offset = position === null ? null : Number(position[1])
      const reason = (err as Error).message.replace(/ in JSON at position \d+.*$/, '').replace(/, ".*" is not valid JSON$/, '')
      const line = offset !== null && hasLineBreaks(text) ? lineAt(text, offset) : null
      const at = offset !== null && line === null ? ` at character ${offset + 1}` : ''
      throw new DocumentProblem(`this is not valid JSON (${reason}${at}).`, null, line)
    }
  }
  const parsed = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (parsed.errors.length > 0) {
    const first = parsed.errors[0]
    const reason = first.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
    throw new DocumentProblem(`this is not valid YAML or JSON (${reason}).`, null, first.linePos?.[0].line ?? null)
  }
  return { value: parsed.toJS({ maxAliasCount: 100 }), format: 'yaml' }
}

/** The first `$ref` that points outside the document, and where it is. */
function externalRef (document: Json): { ref: string, at: string[] } | null {
  const stack: Array<[Json, string[]]> = [[document, []]]
  while (stack.length > 0) {
    const [node, at] = stack.pop() as [Json, string[]]
    if (Array.isArray(node)) {
      node.forEach((v, i) => stack.push([v, [...at, String(i)]]))
    } else if (isObject(node)) {
      const ref = own(node, '$ref')
      if (typeof ref === 'string' && !ref.startsWith('#')) return { ref, at: [...at, '$ref'] }
      for (const [k, v] of Object.entries(node)) if (typeof v === 'object' && v !== null) stack.push([v, [...at, k]])
    }
  }
  return null
}

/** Where the first node holding `$ref: ref` is. */
function refHolder (document: Json, ref: string): string[] | null {
  const stack: Array<[Json, string[]]> = [[document, []]]
  while (stack.length > 0) {
    const [node, at] = stack.pop() as [Json, string[]]
    if (Array.isArray(node)) node.forEach((v, i) => stack.push([v, [...at, String(i)]]))
    else if (isObject(node)) {
      if (own(node, '$ref') === ref) return [...at, '$ref']
      for (const [k, v] of Object.entries(node)) if (typeof v === 'object' && v !== null) stack.push([v, [...at, k]])
    }
  }
  return null
}

// Validation walks the document with every `$ref` replaced by its target: a few references used
// twice at each level would make that walk exponential (a "billion laughs"). Refused past this.
const EXPANDED_NODES_MAX = 2_000_000

/** How many values the document has once its (non-circular) references are expanded, up to `limit`. */
export function expandedSize (document: JsonObject, limit = EXPANDED_NODES_MAX): number {
  const sizes = new Map<string, number>()
  const expanding = new Set<string>()
  function size (node: Json | undefined, depth: number): number {
    if (depth > 5_000) throw new RangeError('too deep')
    if (typeof node !== 'object' || node === null) return 1
    const ref = isObject(node) ? own(node, '$ref') : undefined
    if (typeof ref === 'string' && ref.startsWith('#')) {
      const known = sizes.get(ref)
      if (known !== undefined) return known
      // A circular reference is left in place by the parser: it counts once.
      if (expanding.has(ref)) return 1
      expanding.add(ref)
      const target = resolvePointer(document, ref)
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

/** Where the parser's message is about, as pointer tokens, when it can be worked out. */
function placeOfMessage (document: JsonObject, head: string, frame: string): string[] | null {
  const marked = /^>\s*(\d+)\s*\|/m.exec(frame)
  if (marked !== null) return pointerAtPrettyLine(document, Number(marked[1]))
  const operation = new RegExp(`\`/paths(/.*)/(${METHODS.join('|')})\``).exec(head)
  if (operation !== null) return ['paths', operation[1], operation[2]]
  const duplicate = /operationId `([^`]*)` is duplicated/.exec(head)
  if (duplicate !== null) {
    let seen = 0
    for (const [path, item] of Object.entries(isObject(own(document, 'paths')) ? own(document, 'paths') as JsonObject : {})) {
      for (const method of METHODS) {
        const op = isObject(item) ? own(item, method) : undefined
        if (isObject(op) && own(op, 'operationId') === duplicate[1] && ++seen === 2) return ['paths', path, method, 'operationId']
      }
    }
  }
  const pointer = /\$ref pointer "([^"]+)"/.exec(head)
  if (pointer !== null) return refHolder(document, pointer[1])
  return null
}

/** The parser's first message, said briefly, with where it is. */
function validationProblem (document: JsonObject, text: string, format: OpenApiFormat, messages: string[], more: number): DocumentProblem {
  const message = messages[0] ?? 'The document is not a valid OpenAPI definition.'
  const [head, frame = ''] = message.split('\n\n')
  const explanation = /\^+\s*(?:☹️\s*)?(.+)$/m.exec(frame)?.[1]?.trim()
  const tokens = placeOfMessage(document, head, frame)
  const said = explanation !== undefined ? `${explanation.replace(/!$/, '.')} (${head.trim()})` : head.trim()
  const others = messages.length - 1 + more
  const line = tokens === null ? null : lineOf(text, format, tokens)
  return new DocumentProblem(`${said}${others > 0 ? ` There ${others === 1 ? 'is 1 more problem' : `are ${others} more problems`}.` : ''}`, tokens === null ? null : pointerOf(tokens), line)
}

/**
 * Reads an OpenAPI 3.0 or 3.1 document, or a Swagger 2.0 one converted to 3.0 (JSON or YAML),
 * validates it with @readme/openapi-parser, draws its reference and the gateway's version of it.
 * Heavy: runs in a worker thread. Bad input is a `DocumentProblem` saying what and where.
 */
export async function prepareDocument (text: string): Promise<PreparedDocument> {
  const nul = text.indexOf('\u0000')
  if (nul !== -1) throw new DocumentProblem('the document contains a NUL character, which no JSON or YAML document may hold. Remove it (or save the file as UTF-8 text), then try again.', null, lineAt(text, nul))
  let format: OpenApiFormat = 'json'
  try {
    const parsed = parseText(text)
    format = parsed.format
    const value = parsed.value
    if (!isObject(value)) throw new DocumentProblem('the document must be an OpenAPI object, starting with a line such as "openapi: 3.1.0".')
    // An escaped NUL (\u0000 in JSON, \0 in YAML) is one too, once parsed.
    const problem = inputProblem(value, 5_000)
    if (problem === 'nul') throw new DocumentProblem('a value or a name in the document holds a NUL character (\\u0000), which Portico does not store. Remove it, then try again.')
    if (problem === 'depth') throw new DocumentProblem('the document is nested too deeply to read.')
    const outside = externalRef(value)
    if (outside !== null) {
      throw new DocumentProblem(`the reference "${outside.ref.slice(0, 200)}" points outside the document. Only references inside it (starting with #) are followed: Portico never fetches a URL or reads a file named by a document.`, pointerOf(outside.at), lineOf(text, format, outside.at))
    }
    let document: JsonObject = value
    let importedAs: string | null = null
    const swagger = own(value, 'swagger')
    if (own(value, 'openapi') === undefined && swagger !== undefined) {
      if (swagger !== '2.0') throw new DocumentProblem('this is a Swagger document of a version Portico cannot convert: only Swagger 2.0 (swagger: "2.0") is converted to OpenAPI 3.0.', '/swagger', lineOf(text, format, ['swagger']))
      // Checked as the Swagger 2.0 it is (so problems are found where the author wrote them), then converted.
      const original = structuredClone(value)
      const checked = await validate(structuredClone(value) as unknown as Parameters<typeof validate>[0], PARSER_OPTIONS)
      if (!checked.valid) throw validationProblem(original, text, format, checked.errors.map((e) => e.message), checked.additionalErrors)
      document = await toOpenApi3(original, text)
      importedAs = 'Swagger 2.0'
    }
    const version = own(document, 'openapi')
    if (typeof version !== 'string' || !/^3\.[01]\.\d+$/.test(version)) {
      throw new DocumentProblem('this is not an OpenAPI 3.0 or 3.1 document: it needs an "openapi" field such as 3.0.3 or 3.1.0 (or "swagger": "2.0").', '/openapi', lineOf(text, format, ['openapi']))
    }
    if (expandedSize(document) > EXPANDED_NODES_MAX) throw new DocumentProblem('the document\'s references expand to more than 2 million values (a schema used several times at each of many levels). Simplify those references.')
    // Drawn first: validation replaces the document's references by their targets, in place (a
    // copy of a 13 MB document costs the memory of another).
    const reference = drawReference(document, importedAs)
    const gatewayJson = gatewayText(document)
    const located = structuredCloneIfSmall(document)
    const result = await validate(document as unknown as Parameters<typeof validate>[0], PARSER_OPTIONS)
    if (!result.valid) {
      // A converted document's problems are located in the converted form; its lines are not the text's.
      throw validationProblem(located ?? document, importedAs === null ? text : '', format, result.errors.map((e) => e.message), result.additionalErrors)
    }
    return { format, reference, gatewayJson }
  } catch (err) {
    if (err instanceof DocumentProblem) throw err
    // The parser's own refusals (a reference it cannot follow, a structure too deep to walk).
    if (err instanceof RangeError) throw new DocumentProblem('the document is nested too deeply to read.')
    throw new DocumentProblem(`the document could not be read: ${(err as Error).message.split('\n')[0].slice(0, 300)}`)
  }
}

// Problems are located in the document as it was before validation changed it: kept for documents
// small enough to copy; a larger one is located in its validated form (its references replaced).
function structuredCloneIfSmall (document: JsonObject): JsonObject | null {
  return expandedSize(document, 200_000) < 200_000 ? structuredClone(document) : null
}

async function toOpenApi3 (swagger: JsonObject, text: string): Promise<JsonObject> {
  try {
    // `text` spares the converter from writing the whole document out again as YAML.
    // With `direct`, the converter answers the document itself (its types say the options).
    const converted: unknown = await convertObj(swagger as unknown as Parameters<typeof convertObj>[0], { patch: true, warnOnly: true, text, direct: true })
    if (!isObject(converted)) throw new Error('the converter gave no document')
    return converted
  } catch (err) {
    throw new DocumentProblem(`this Swagger 2.0 document could not be converted to OpenAPI 3.0: ${(err as Error).message.split('\n')[0].slice(0, 300)}`)
  }
}
