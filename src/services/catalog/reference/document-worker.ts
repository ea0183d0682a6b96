/**
 * The worker thread that reads, validates and draws OpenAPI documents, so the request thread (which
 * the gateway shares) never does. One message in (the document's bytes), one answer out.
 */
import { parentPort } from 'node:worker_threads'
import { DocumentProblem, prepareDocument } from './prepare'
import { storedDocument, type StoredDocument } from './stored'

export type WorkerAnswer =
  | { ok: true, document: StoredDocument }
  | { ok: false, message: string, pointer: string | null, line: number | null }

parentPort?.on('message', (bytes: Uint8Array) => {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  prepareDocument(text).then((prepared) => {
    parentPort?.postMessage({ ok: true, document: storedDocument(prepared) } satisfies WorkerAnswer)
  }, (err: unknown) => {
    const problem = err instanceof DocumentProblem ? err : new DocumentProblem(`the document could not be read: ${(err as Error).message.split('\n')[0].slice(0, 300)}`)
    parentPort?.postMessage({ ok: false, message: problem.message, pointer: problem.pointer, line: problem.line } satisfies WorkerAnswer)
  })
})
