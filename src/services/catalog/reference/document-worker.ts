/**
 * The worker thread that reads, validates and draws OpenAPI documents, so the request thread (which
 * the gateway shares) never does. One message in (the document's bytes), one answer out.
 */
import { parentPort } from 'node:worker_threads'
import { stringify } from 'yaml'
import { DocumentProblem, prepareDocument } from './prepare'
import { storedDocument, type StoredDocument } from './stored'

/** A job: a document to prepare, or the gateway's JSON document to write out as YAML. */
export interface WorkerJob { kind: 'prepare' | 'yaml', bytes: Uint8Array<ArrayBuffer> }

export type WorkerAnswer =
  | { ok: true, document: StoredDocument }
  | { ok: true, yaml: string }
  | { ok: false, message: string, pointer: string | null, line: number | null }

parentPort?.on('message', (job: WorkerJob) => {
  const text = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength).toString('utf8')
  if (job.kind === 'yaml') {
    parentPort?.postMessage({ ok: true, yaml: stringify(JSON.parse(text), { aliasDuplicateObjects: false, lineWidth: 0 }) } satisfies WorkerAnswer)
    return
  }
  prepareDocument(text).then((prepared) => {
    parentPort?.postMessage({ ok: true, document: storedDocument(prepared) } satisfies WorkerAnswer)
  }, (err: unknown) => {
    const problem = err instanceof DocumentProblem ? err : new DocumentProblem(`the document could not be read: ${(err as Error).message.split('\n')[0].slice(0, 300)}`)
    parentPort?.postMessage({ ok: false, message: problem.message, pointer: problem.pointer, line: problem.line } satisfies WorkerAnswer)
  })
})
