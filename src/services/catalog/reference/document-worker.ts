/**
 * The worker that reads, validates and draws OpenAPI documents, so the request thread (which the
 * gateway shares) never does: a process of its own, started by worker-pool.ts at a lower CPU
 * priority, whose memory goes back to the system when it ends. One message in, one answer out.
 */
import { stringify } from 'yaml'
import { DocumentProblem, prepareDocument } from './prepare'
import { storedDocument, type StoredDocument } from './stored'
import { withGatewayNames } from './gateway-document'
import type { GatewayNames } from './gateway-names'
import type { JsonObject } from './json'

const answer = (message: WorkerAnswer): void => { process.send?.(message) }

/**
 * A job: a document to prepare, the gateway's JSON document to write out as YAML, or to remake
 * with an API's key names and supplied schemes (`names`).
 */
export interface WorkerJob { kind: 'prepare' | 'yaml' | 'gateway', bytes: Uint8Array<ArrayBuffer>, names?: GatewayNames }

export type WorkerAnswer =
  | { ok: true, document: StoredDocument }
  | { ok: true, yaml: string }
  | { ok: true, gateway: string }
  | { ok: false, message: string, pointer: string | null, line: number | null }

/** A piece of a document's answer, sent ahead of it (see `sendDocument`). */
export type WorkerPart =
  | { part: 'operations', rows: StoredDocument['operations'] }
  | { part: 'schemas', rows: StoredDocument['schemas'] }
  | { part: 'gateway', text: string }

const ROWS_PER_MESSAGE = 100
const CHARACTERS_PER_MESSAGE = 256 * 1024

/**
 * A stored document in many small messages, then the rest: the channel joins a message's chunks
 * as they arrive, so one message of 30 MB would cost the server's thread a long copy, and many
 * small ones cost it a little at a time.
 */
function sendDocument (document: StoredDocument): void {
  const { operations, schemas, gatewayJson, ...rest } = document
  const send = (message: WorkerPart): void => { process.send?.(message) }
  for (let i = 0; i < operations.length; i += ROWS_PER_MESSAGE) send({ part: 'operations', rows: operations.slice(i, i + ROWS_PER_MESSAGE) })
  for (let i = 0; i < schemas.length; i += ROWS_PER_MESSAGE) send({ part: 'schemas', rows: schemas.slice(i, i + ROWS_PER_MESSAGE) })
  for (let i = 0; i < gatewayJson.length; i += CHARACTERS_PER_MESSAGE) send({ part: 'gateway', text: gatewayJson.slice(i, i + CHARACTERS_PER_MESSAGE) })
  answer({ ok: true, document: { ...rest, operations: [], schemas: [], gatewayJson: '' } })
}

process.on('message', (job: WorkerJob) => {
  const text = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength).toString('utf8')
  if (job.kind === 'yaml' || job.kind === 'gateway') {
    const out = job.kind === 'yaml'
      ? stringify(JSON.parse(text), { aliasDuplicateObjects: false, lineWidth: 0 })
      : JSON.stringify(withGatewayNames(JSON.parse(text) as JsonObject, job.names ?? { keyHeader: '', keyQuery: '', supplied: [] }), null, 2)
    for (let i = 0; i < out.length; i += CHARACTERS_PER_MESSAGE) process.send?.({ part: 'gateway', text: out.slice(i, i + CHARACTERS_PER_MESSAGE) } satisfies WorkerPart)
    answer(job.kind === 'yaml' ? { ok: true, yaml: '' } : { ok: true, gateway: '' })
    return
  }
  prepareDocument(text).then((prepared) => {
    sendDocument(storedDocument(prepared))
  }, (err: unknown) => {
    const problem = err instanceof DocumentProblem ? err : new DocumentProblem(`the document could not be read: ${(err as Error).message.split('\n')[0].slice(0, 300)}`)
    answer({ ok: false, message: problem.message, pointer: problem.pointer, line: problem.line } satisfies WorkerAnswer)
  })
})
