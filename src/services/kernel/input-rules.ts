import { DomainError } from './errors'

/**
 * What no input may hold, whatever the route or the database: a NUL byte (PostgreSQL refuses it
 * in text, SQLite keeps it, and it has no use in a form, a query or a document), or nesting deeper
 * than any form or JSON body of ours has (a 5,000-deep array is 10 KB and overflowed a recursive
 * walk). One rule for the portal, the management API and uploaded documents.
 */
export const MAX_INPUT_DEPTH = 32

export type InputProblem = 'nul' | 'depth'

/** The first problem found in a parsed value (query, form, JSON body, document), walked without recursion. */
export function inputProblem (value: unknown, maxDepth = MAX_INPUT_DEPTH): InputProblem | null {
  const stack: Array<{ value: unknown, depth: number }> = [{ value, depth: 0 }]
  while (stack.length > 0) {
    const { value: item, depth } = stack.pop() as { value: unknown, depth: number }
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return 'nul'
      continue
    }
    // An uploaded file's bytes are for its own parser to judge (the CSV import and the OpenAPI
    // import refuse a NUL with a message of their own). Walking a Buffer's entries costs seconds.
    if (typeof item !== 'object' || item === null || Buffer.isBuffer(item)) continue
    if (depth >= maxDepth) return 'depth'
    if (Array.isArray(item)) {
      for (const element of item) stack.push({ value: element, depth: depth + 1 })
      continue
    }
    for (const [key, element] of Object.entries(item)) {
      if (key.includes('\u0000')) return 'nul'
      stack.push({ value: element, depth: depth + 1 })
    }
  }
  return null
}

export const INPUT_MESSAGES: Record<InputProblem, string> = {
  nul: 'Some of the data sent contains a character that is not allowed (a NUL byte). Remove it and try again.',
  depth: `The data sent is nested too deeply (more than ${MAX_INPUT_DEPTH} levels).`
}

/** Input that breaks the rule above: 400 with its message. */
export class UnsafeInput extends DomainError {
  constructor (readonly problem: InputProblem) {
    super(400, INPUT_MESSAGES[problem])
  }
}

/** Throws UnsafeInput when any of these values breaks the rule. */
export function requireSafeInput (...values: unknown[]): void {
  for (const value of values) {
    const problem = inputProblem(value)
    if (problem !== null) throw new UnsafeInput(problem)
  }
}
