import { Invalid, TooLarge } from '../kernel/errors'
import { DocumentProblem, type OpenApiFormat } from './reference/problem'
import type { StoredDocument } from './reference/stored'
import type { DocumentWorkers } from './reference/worker-pool'

export type { OpenApiFormat }

export interface ImportedDocument {
  /** The document as imported, byte for byte. */
  text: string
  stored: StoredDocument
}

/** What a file or a paste past OPENAPI_MAX_MB is told. */
export function tooLargeMessage (maxBytes: number): string {
  return `The OpenAPI document is larger than ${Math.round(maxBytes / (1024 * 1024))} MB, the most Portico accepts (OPENAPI_MAX_MB).`
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
    throw new Invalid({ openapi: 'This file looks like UTF-16 text without a byte-order mark. Save the document as UTF-8, then upload it again.' })
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '')
  } catch {
    throw new Invalid({ openapi: 'This file is not UTF-8 text (it may be a binary file, or text in another encoding). Save the document as UTF-8, then upload it again.' })
  }
}

/**
 * Reads, validates and draws an OpenAPI 3.0/3.1 or Swagger 2.0 document in a worker thread. Bad
 * input is an `Invalid` for the `openapi` field, saying what is wrong and where (a JSON Pointer,
 * and the line when the text has line breaks); more than `maxBytes` is `TooLarge` (413).
 */
export async function importOpenApi (workers: DocumentWorkers, text: string, maxBytes: number): Promise<ImportedDocument> {
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new TooLarge(tooLargeMessage(maxBytes))
  try {
    return { text, stored: await workers.prepare(text) }
  } catch (err) {
    if (err instanceof DocumentProblem) throw new Invalid({ openapi: err.said() })
    throw err
  }
}
