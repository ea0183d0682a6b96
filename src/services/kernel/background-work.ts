/**
 * Work that runs after the answer has gone out, so a response takes the same time whatever the
 * work finds (no timing difference between an email with an account and one without). Failures
 * are reported, never thrown at a request; `idle` waits for what is running (on close, in tests).
 */
export function createBackgroundWork (onError: (err: unknown) => void) {
  const running = new Set<Promise<void>>()

  function run (work: () => Promise<void>): void {
    const task: Promise<void> = work().catch(onError).finally(() => { running.delete(task) })
    running.add(task)
  }

  async function idle (): Promise<void> {
    while (running.size > 0) await Promise.all([...running])
  }

  return { run, idle }
}

export type BackgroundWork = ReturnType<typeof createBackgroundWork>

/** A piece of work a service hands back to run once the response is sent. */
export type Deferred = () => Promise<void>
