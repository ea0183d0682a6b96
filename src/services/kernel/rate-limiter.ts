/**
 * Rate limits: calls per key (a subscription, a client address) in fixed windows of the limit's
 * period, in this instance's memory (as the contract says: per instance). Answers how long to
 * wait, or 0.
 */
export function createRateLimiter () {
  let windows = new Map<number | string, { start: number, calls: number }>()
  let swept = 0

  function windowOf (key: number | string, periodMs: number, now: number): { start: number, calls: number } {
    if (now - swept > 60_000) {
      // Forget windows that ended a while ago, so idle keys cost nothing.
      const fresh = new Map<number | string, { start: number, calls: number }>()
      for (const [id, w] of windows) if (now - w.start < 31 * 86_400_000) fresh.set(id, w)
      windows = fresh
      swept = now
    }
    const start = now - (now % periodMs)
    let w = windows.get(key)
    if (w === undefined || w.start !== start) windows.set(key, w = { start, calls: 0 })
    return w
  }

  /** Counts one call: 0 when it may go, else the milliseconds until the window renews. */
  function take (key: number | string, limit: { calls: number, periodMs: number }, now: number): number {
    const w = windowOf(key, limit.periodMs, now)
    if (w.calls >= limit.calls) return w.start + limit.periodMs - now
    w.calls++
    return 0
  }

  /** The same question without counting: how long until one more may go (0: now). */
  function waitFor (key: number | string, limit: { calls: number, periodMs: number }, now: number): number {
    const w = windowOf(key, limit.periodMs, now)
    return w.calls >= limit.calls ? w.start + limit.periodMs - now : 0
  }

  return { take, waitFor }
}
