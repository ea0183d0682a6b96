import Router from 'find-my-way'

/**
 * Which operation of an API's document a call is: its method and path matched against the
 * document's path templates by a compiled router (find-my-way, the router fastify itself uses),
 * not a scan of the paths on every call.
 */

/** A mock answer: the operation's first 2xx response, with its first example (or no body). */
export interface MockAnswer { status: number, contentType: string | null, body: string | null }

export interface OperationEntry {
  key: string
  method: string
  /** The document's path template, such as /pets/{petId}. */
  path: string
  /** Only when the API answers from its document. */
  mock?: MockAnswer
}

/** `name`: the method and path template, as usage counts it ("GET /pets/{petId}"). */
export interface MatchedOperation { key: string, name: string, mock: MockAnswer | undefined }

export interface OperationRouter {
  match: (method: string, path: string) => MatchedOperation | null
  size: number
}

const METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE'])

/** /pets/{petId} → /pets/:petId (a literal ':' escaped, as find-my-way reads "::" as one). */
export function routerPath (template: string): string {
  const escaped = template.replace(/:/g, '::')
  let n = 0
  return escaped.replace(/\{[^}/]*\}/g, () => `:p${n++}`)
}

const noop = (): void => {}

/**
 * Compiles the operations into one router. A template the router cannot take (or a second
 * operation of the same shape) is left out: its calls go unmatched, as a path the document does
 * not have.
 */
export function compileOperations (operations: OperationEntry[]): OperationRouter {
  const router = Router({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: false, caseSensitive: true, maxParamLength: 2000 })
  let size = 0
  for (const op of operations) {
    const method = op.method.toUpperCase()
    if (!METHODS.has(method)) continue
    try {
      router.on(method as Router.HTTPMethod, routerPath(op.path.startsWith('/') ? op.path : `/${op.path}`), noop, { key: op.key, name: `${method} ${op.path}`, mock: op.mock })
      size++
    } catch {
      // A shape already taken, or a template the router cannot read: left unmatched.
    }
  }
  return {
    size,
    match (method: string, path: string): MatchedOperation | null {
      const upper = method.toUpperCase()
      if (!METHODS.has(upper)) return null
      const found = router.find(upper as Router.HTTPMethod, path)
      if (found === null) return null
      return found.store as MatchedOperation
    }
  }
}

/** The mock answer of a drawn operation's responses: the first 2xx (in the document's order) and its first example (else one made from its schema). */
export function mockAnswerOf (responses: Array<{ code: string, contents: Array<{ mediaType: string, examples: Array<{ value: string }>, generated?: string }> }>): MockAnswer {
  const success = responses.find((r) => /^2(\d\d|XX)$/i.test(r.code))
  if (success === undefined) return { status: 200, contentType: null, body: null }
  const status = /^2\d\d$/.test(success.code) ? Number(success.code) : 200
  const media = success.contents.find((c) => c.examples.length > 0)
  if (media !== undefined) return { status, contentType: media.mediaType, body: media.examples[0].value }
  // No example in the document: the one made from the response's schema at import.
  const made = success.contents.find((c) => c.generated !== undefined)
  if (made !== undefined) return { status, contentType: made.mediaType, body: made.generated ?? null }
  return { status, contentType: success.contents[0]?.mediaType ?? null, body: null }
}
