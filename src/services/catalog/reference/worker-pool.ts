import { fork, type ChildProcess } from 'node:child_process'
import { setPriority } from 'node:os'
import { extname, join } from 'node:path'
import type { StoredDocument } from './stored'
import type { WorkerAnswer, WorkerJob, WorkerPart } from './document-worker'
import type { GatewayNames } from './gateway-names'
import { DocumentProblem } from './problem'

const WORKER_FILE = join(__dirname, `document-worker${extname(__filename)}`)
// A document's work is seconds at most (GitHub's 13 MB: about 3 s); past this something is wrong.
const JOB_TIMEOUT_MS = 180_000
// The process (and its memory) goes soon after its last job; the next save starts another.
const IDLE_MS = 5_000
const HEAP_MB = 1536
// Below the server's priority: on a busy machine, calls and pages go first and a save waits.
const NICENESS = 10

interface Job {
  job: WorkerJob
  resolve: (answer: WorkerAnswer & { ok: true }) => void
  reject: (e: Error) => void
  /** The pieces sent ahead of the answer. */
  operations: StoredDocument['operations']
  schemas: StoredDocument['schemas']
  text: string[]
}

/**
 * Prepares documents in a worker process, one at a time (more wait their turn): the request
 * thread only hands the bytes over and takes the stored form back. A process rather than a
 * thread: its CPU priority can be lowered, and the few hundred megabytes a 13 MB document needs
 * while it is validated go back to the system when it ends, instead of staying in the server's.
 */
export function createDocumentWorkers () {
  let worker: ChildProcess | null = null
  let current: Job | null = null
  let idle: NodeJS.Timeout | null = null
  let timeout: NodeJS.Timeout | null = null
  const queue: Job[] = []
  let closed = false

  function spawn (): ChildProcess {
    // `serialization: 'advanced'`: the bytes and the answer's strings cross as structured clones, not JSON.
    const w = fork(WORKER_FILE, [], { serialization: 'advanced', execArgv: [...process.execArgv, `--max-old-space-size=${HEAP_MB}`], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    try {
      if (w.pid !== undefined) setPriority(w.pid, NICENESS)
    } catch {} // not allowed here: it runs at the server's priority
    w.on('message', (message: WorkerAnswer | WorkerPart) => {
      const job = current
      if ('part' in message) {
        if (message.part === 'operations') job?.operations.push(...message.rows)
        else if (message.part === 'schemas') job?.schemas.push(...message.rows)
        else job?.text.push(message.text)
        return
      }
      finish()
      if (job === null) return
      if (!message.ok) job.reject(new DocumentProblem(message.message, message.pointer, message.line))
      else if ('yaml' in message) job.resolve({ ok: true, yaml: job.text.join('') })
      else if ('gateway' in message) job.resolve({ ok: true, gateway: job.text.join('') })
      else job.resolve({ ok: true, document: { ...message.document, operations: job.operations, schemas: job.schemas, gatewayJson: job.text.join('') } })
    })
    w.on('exit', (code, signal) => {
      if (worker === w) worker = null
      const job = current
      if (job === null || closed) return
      finish()
      // Ended with a job in hand: out of memory (V8 aborts), or killed.
      job.reject(new DocumentProblem(signal === 'SIGKILL' && code === null
        ? 'the document took too long to read. Split it into several APIs, or simplify its schemas.'
        : 'the document needs more memory to read than Portico allows. Split it into several APIs, or simplify its schemas.'))
    })
    w.on('error', () => { /* reported by 'exit' */ })
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
        idle = setTimeout(() => { idle = null; worker?.kill(); worker = null }, IDLE_MS)
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
      w?.kill('SIGKILL')
      const stuck = current
      finish()
      stuck?.reject(new DocumentProblem('the document took too long to read. Split it into several APIs, or simplify its schemas.'))
    }, JOB_TIMEOUT_MS)
    timeout.unref()
    worker.send(job.job)
  }

  async function run (kind: WorkerJob['kind'], text: string, names?: GatewayNames): Promise<WorkerAnswer & { ok: true }> {
    if (closed) throw new Error('closed')
    const buffer = new ArrayBuffer(Buffer.byteLength(text))
    Buffer.from(buffer).write(text)
    return await new Promise((resolve, reject) => {
      queue.push({ job: { kind, bytes: new Uint8Array(buffer), names }, resolve, reject, operations: [], schemas: [], text: [] })
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

  /** The gateway's JSON document remade with an API's key names and supplied schemes. */
  async function gateway (json: string, names: GatewayNames): Promise<string> {
    const answer = await run('gateway', json, names)
    if (!('gateway' in answer)) throw new Error('the worker answered another job')
    return answer.gateway
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
    if (w !== null && w.exitCode === null && w.signalCode === null) {
      const exited = new Promise((resolve) => w.once('exit', resolve))
      w.kill()
      await exited
    }
  }

  return { prepare, yaml, gateway, close }
}

export type DocumentWorkers = ReturnType<typeof createDocumentWorkers>
