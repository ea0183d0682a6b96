import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml'
import { isObject, type Json } from './json'

/**
 * Where a problem in a document is: its JSON Pointer, and the line of the text when the text has
 * line breaks (a minified document is all "line 1", which helps nobody).
 */
export interface Place { pointer: string | null, line: number | null }

export function hasLineBreaks (text: string): boolean {
  const first = text.indexOf('\n')
  return first !== -1 && first < text.length - 1
}

export function lineAt (text: string, offset: number): number {
  let line = 1
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++
  return line
}

/** The line of the value at `tokens` in the text (JSON or YAML), or null. */
export function lineOf (text: string, format: 'json' | 'yaml', tokens: string[]): number | null {
  if (!hasLineBreaks(text)) return null
  if (format === 'json') {
    const offset = jsonOffsetOf(text, tokens)
    return offset === null ? null : lineAt(text, offset)
  }
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false })
  let node: unknown = doc.contents
  let offset: number | null = null
  for (const token of tokens) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key) === token)
      if (pair === undefined) return offset === null ? null : lineCounter.linePos(offset).line
      offset = (pair.key as Node | null)?.range?.[0] ?? offset
      node = pair.value
    } else if (isSeq(node)) {
      const item = node.items[Number(token)] as Node | undefined
      if (item === undefined) break
      offset = item.range?.[0] ?? offset
      node = item
    } else {
      break
    }
  }
  return offset === null ? null : lineCounter.linePos(offset).line
}

/** The offset of the key (or array item) at `tokens` in JSON text: a scan, no parse tree. */
export function jsonOffsetOf (text: string, tokens: string[]): number | null {
  let i = 0
  const n = text.length
  const space = (): void => { while (i < n && ' \t\r\n'.includes(text[i])) i++ }
  const skipString = (): void => {
    i++
    while (i < n) {
      const c = text[i]
      if (c === '\\') i += 2
      else if (c === '"') { i++; return } else i++
    }
  }
  const skipValue = (): void => {
    space()
    const c = text[i]
    if (c === '"') return skipString()
    if (c === '{' || c === '[') {
      let depth = 0
      while (i < n) {
        const d = text[i]
        if (d === '"') { skipString(); continue }
        if (d === '{' || d === '[') depth++
        else if (d === '}' || d === ']') { depth--; if (depth === 0) { i++; return } }
        i++
      }
      return
    }
    while (i < n && !',}] \t\r\n'.includes(text[i])) i++
  }
  let found = 0
  for (const token of tokens) {
    space()
    if (text[i] === '{') {
      i++
      for (;;) {
        space()
        if (text[i] !== '"') return null
        const start = i
        skipString()
        let key: string
        try { key = JSON.parse(text.slice(start, i)) as string } catch { return null }
        space()
        if (text[i] !== ':') return null
        i++
        if (key === token) { found = start; break }
        skipValue()
        space()
        if (text[i] !== ',') return null
        i++
      }
    } else if (text[i] === '[') {
      i++
      const index = Number(token)
      if (!Number.isInteger(index)) return null
      for (let k = 0; k < index; k++) {
        skipValue()
        space()
        if (text[i] !== ',') return null
        i++
      }
      space()
      found = i
    } else {
      return null
    }
  }
  return found
}

/**
 * The pointer of what starts on `line` of `JSON.stringify(value, null, 2)` (the parser quotes its
 * problems in that form), without building the text.
 */
export function pointerAtPrettyLine (value: Json, line: number): string[] | null {
  let current = 1
  if (line === 1) return []
  const path: string[] = []
  function visit (node: Json): boolean {
    const entries: Array<[string, Json]> = Array.isArray(node) ? node.map((v, i) => [String(i), v]) : isObject(node) ? Object.entries(node) : []
    if (entries.length === 0) return false
    for (const [key, child] of entries) {
      current++
      path.push(key)
      if (current === line) return true
      if (visit(child)) return true
      path.pop()
    }
    current++ // the closing bracket
    return current === line
  }
  return visit(value) ? path : null
}
