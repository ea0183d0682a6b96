import { Worker } from 'node:worker_threads'
import { extname, join } from 'node:path'
import type { StoredDocument } from './stored'
import type { WorkerAnswer, WorkerJob } from './document-worker'
import { DocumentProblem } from './problem'

const WORKER_FILE = join(__dirname, `document-worker${extname(__filename)}`)
// A document's work is seconds at most (GitHub's 13 MB: about 3 s); past this something is wrong.
const JOB_TIMEOUT_MS = 180_000
// The thread (and its memory) goes soon after its last job; the next save starts another.
const IDLE_MS = 5_000
const HEAP_MB = 1536

interface Job { job: WorkerJob, resolve: (answer: WorkerAnswer & { ok: true }) => void, reject: (e: Error) => void }

/**
 * Prepares documents in a worker thread, one at a time (more wait their turn): the request
 * thread only hands the bytes over and takes the stored form back.
 */
export function createDocumentWorkers () {
  let worker: Worker | null = null
  let current: Job | null = null
  let idle: NodeJS.Timeout | null = null
  let timeout: NodeJS.Timeout | null = null
  const queue: Job[] = []
  let closed = false

  function spawn (): Worker {
    const w = new Worker(WORKER_FILE, { resourceLimits: { maxOldGenerationSizeMb: HEAP_MB } })
    w.on('message', (answer: WorkerAnswer) => {
      const job = current
      finish()
      if (job === null) return
      if (answer.ok) job.resolve(answer)
      else job.reject(new DocumentProblem(answer.message, answer.pointer, answer.line))
    })
    w.on('error', (err: Error & { code?: string }) => {
      const job = current
      worker = null
      finish()
      job?.reject(new DocumentProblem(err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? 'the document needs more memory to read than Portico allows. Split it into several APIs, or simplify its schemas.'
        : `the document could not be read: ${err.message.split('\n')[0].slice(0, 300)}`))
    })
    w.on('exit', () => { if (worker === w) worker = null })
    return w
  }

  function finish (): void {
    current = null
    if (timeout !== null) clearTimeout(timeout)
    timeout = null
    next()
  }

  function next (): void {
    if (current !== null) return
    const job = queue.shift()
    if (job === undefined) {
      if (idle === null && worker !== null) {
        idle = setTimeout(() => { idle = null; void worker?.terminate(); worker = null }, IDLE_MS)
        idle.unref()
      }
      return
    }
    if (idle !== null) { clearTimeout(idle); idle = null }
    worker ??= spawn()
    current = job
    timeout = setTimeout(() => {
      const w = worker
      worker = null
      void w?.terminate()
      const stuck = current
      finish()
      stuck?.reject(new DocumentProblem('the document took too long to read. Split it into several APIs, or simplify its schemas.'))
    }, JOB_TIMEOUT_MS)
    timeout.unref()
    worker.postMessage(job.job, [job.job.bytes.buffer])
  }

  async function run (kind: WorkerJob['kind'], text: string): Promise<WorkerAnswer & { ok: true }> {
    if (closed) throw new Error('closed')
    const buffer = new ArrayBuffer(Buffer.byteLength(text))
    Buffer.from(buffer).write(text)
    return await new Promise((resolve, reject) => {
      queue.push({ job: { kind, bytes: new Uint8Array(buffer) }, resolve, reject })
      next()
    })
  }

  /** The document's stored form, or a `DocumentProblem`. */
  async function prepare (text: string): Promise<StoredDocument> {
    const answer = await run('prepare', text)
    if (!('document' in answer)) throw new Error('the worker answered another job')
    return answer.document
  }

  /** A JSON document written out as YAML (the gateway's document, when first asked for). */
  async function yaml (json: string): Promise<string> {
    const answer = await run('yaml', json)
    if (!('yaml' in answer)) throw new Error('the worker answered another job')
    return answer.yaml
  }

  async function close (): Promise<void> {
    closed = true
    if (idle !== null) clearTimeout(idle)
    if (timeout !== null) clearTimeout(timeout)
    for (const job of queue.splice(0)) job.reject(new Error('closed'))
    current?.reject(new Error('closed'))
    current = null
    const w = worker
    worker = null
    await w?.terminate()
  }

  return { prepare, yaml, close }
}

export type DocumentWorkers = ReturnType<typeof createDocumentWorkers>
