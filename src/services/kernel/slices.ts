/**
 * Long work in bounded slices: call the answer in a loop; once `budgetMs` has passed since the
 * last pause it lets the event loop run (other requests, the gateway) before going on. So no
 * import, however long, holds the process for more than about a slice.
 */
export function createSlicer (budgetMs = 10): () => Promise<void> {
  let since = performance.now()
  return async function pause (): Promise<void> {
    if (performance.now() - since < budgetMs) return
    await new Promise((resolve) => setImmediate(resolve))
    since = performance.now()
  }
}

/** Lets the event loop run once, whatever the budget (between two transactions). */
export async function yieldToOthers (): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
}
