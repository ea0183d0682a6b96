/**
 * Connections to each backend: at most `perBackend` calls forwarded at once to one origin (the
 * size of the connection pool), the others waiting in line for at most `waitMs`. A call that
 * cannot get a connection in that time is answered 503 instead of waiting without end.
 */
export function createBackendSlots (perBackend: number, waitMs: number) {
  interface Waiter { granted: (ok: boolean) => void, timer: NodeJS.Timeout }
  const backends = new Map<string, { active: number, waiting: Waiter[] }>()

  /** A connection for one call: true at once on the fast path, else a promise (false: none came in time). */
  function take (origin: string): true | Promise<boolean> {
    let backend = backends.get(origin)
    if (backend === undefined) backends.set(origin, backend = { active: 0, waiting: [] })
    if (backend.active < perBackend) {
      backend.active++
      return true
    }
    const line = backend.waiting
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        granted: resolve,
        timer: setTimeout(() => {
          const at = line.indexOf(waiter)
          if (at !== -1) line.splice(at, 1)
          resolve(false)
        }, waitMs)
      }
      line.push(waiter)
    })
  }

  /** The call has ended: its connection goes to the next in line. */
  function release (origin: string): void {
    const backend = backends.get(origin)
    if (backend === undefined) return
    const next = backend.waiting.shift()
    if (next !== undefined) {
      clearTimeout(next.timer)
      next.granted(true)
      return
    }
    backend.active--
    if (backend.active <= 0) backends.delete(origin)
  }

  return { take, release }
}

export type BackendSlots = ReturnType<typeof createBackendSlots>
