/**
 * The load of bench/api-reference.ts, in a worker thread of its own, so the clients' work does not
 * run on the event loop being measured: probes of the gateway and /healthz every 20 ms, readers
 * paging through the reference, and an administrator's save of a document (multipart, as a browser
 * sends it). Answers with every latency it saw.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'

export interface LoadPlan {
  base: string
  /** A gateway call to probe (an open product: no key). */
  gatewayPath: string
  /** Pages the readers go through, in turn. */
  pages: string[]
  readers: number
  /** How long to run when there is no save (ms). */
  durationMs: number
  save: { path: string, cookie: string, csrf: string, fields: Record<string, string>, document: string } | null
}

export interface LoadResult {
  gateway: number[]
  health: number[]
  pages: number[]
  pageFailures: number
  saveMs: number | null
  saveStatus: number | null
}

async function timed (url: string, init?: RequestInit): Promise<{ ms: number, status: number }> {
  const started = performance.now()
  const res = await fetch(url, init)
  await res.arrayBuffer()
  return { ms: performance.now() - started, status: res.status }
}

async function main (plan: LoadPlan): Promise<LoadResult> {
  const result: LoadResult = { gateway: [], health: [], pages: [], pageFailures: 0, saveMs: null, saveStatus: null }
  let going = true
  const pause = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
  const probe = async (path: string, into: number[]): Promise<void> => {
    while (going) {
      into.push((await timed(`${plan.base}${path}`)).ms)
      await pause(20)
    }
  }
  let next = 0
  const reader = async (): Promise<void> => {
    while (going) {
      const page = plan.pages[next++ % plan.pages.length]
      const { ms, status } = await timed(`${plan.base}${page}`, { headers: { 'accept-encoding': 'br, gzip' } })
      if (status !== 200) result.pageFailures++
      result.pages.push(ms)
    }
  }
  const running = [probe(plan.gatewayPath, result.gateway), probe('/healthz', result.health), ...Array.from({ length: plan.readers }, reader)]
  if (plan.save !== null) {
    const form = new FormData()
    for (const [name, value] of Object.entries({ _csrf: plan.save.csrf, ...plan.save.fields })) form.append(name, value)
    form.append('openapiFile', new Blob([plan.save.document]), 'openapi.json')
    const started = performance.now()
    const res = await fetch(`${plan.base}${plan.save.path}`, { method: 'POST', redirect: 'manual', headers: { cookie: plan.save.cookie }, body: form })
    await res.arrayBuffer()
    result.saveMs = performance.now() - started
    result.saveStatus = res.status
  } else {
    await pause(plan.durationMs)
  }
  going = false
  await Promise.all(running)
  return result
}

if (parentPort !== null) {
  main(workerData as LoadPlan).then((result) => parentPort?.postMessage(result), (err: unknown) => { throw err })
}
