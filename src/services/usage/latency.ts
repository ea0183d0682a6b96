/**
 * Latency kept as a histogram: each call counted in the first bucket whose upper bound (ms) it
 * does not pass, so reports can give p50, p95 and p99 from sums alone (as Prometheus does).
 * The bounds are fixed: `gateway_usage` has one column per bucket, named by `bucketColumn`.
 */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 120_000, 240_000] as const

/** The columns, the last one for calls slower than every bound. */
export const BUCKET_COLUMNS: readonly string[] = [...LATENCY_BOUNDS_MS.map((b) => `lat_${b}`), 'lat_inf']

/** The bucket a latency falls in: its index in BUCKET_COLUMNS. */
export function bucketOf (latencyMs: number): number {
  let i = 0
  while (i < LATENCY_BOUNDS_MS.length && latencyMs > LATENCY_BOUNDS_MS[i]) i++
  return i
}

/**
 * The latency under which a share `q` (0 < q ≤ 1) of the counted calls fell, read from bucket
 * counts: linear within the bucket holding that rank, as Prometheus's histogram_quantile; the
 * last, open bucket answers with the highest bound. Null when nothing was counted.
 */
export function quantile (q: number, counts: readonly number[]): number | null {
  const total = counts.reduce((a, b) => a + b, 0)
  if (total === 0) return null
  const rank = q * total
  let below = 0
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]
    if (count > 0 && below + count >= rank) {
      if (i >= LATENCY_BOUNDS_MS.length) return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]
      const upper = LATENCY_BOUNDS_MS[i]
      return Math.round((lower + (upper - lower) * ((rank - below) / count)) * 10) / 10
    }
    below += count
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]
}
