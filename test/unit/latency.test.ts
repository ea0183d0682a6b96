import t from 'tap'
import { BUCKET_COLUMNS, LATENCY_BOUNDS_MS, bucketOf, quantile } from '../../src/services/usage/latency'

const counts = (entries: Record<number, number>) => BUCKET_COLUMNS.map((_, i) => entries[i] ?? 0)

t.test('bucketOf: the first bucket whose bound a latency does not pass; the last for slower ones', async (t) => {
  t.equal(bucketOf(0), 0)
  t.equal(bucketOf(1), 0, 'a bound is inclusive')
  t.equal(bucketOf(1.01), 1)
  t.equal(bucketOf(350), LATENCY_BOUNDS_MS.indexOf(500))
  t.equal(bucketOf(240_000), LATENCY_BOUNDS_MS.length - 1)
  t.equal(bucketOf(240_001), BUCKET_COLUMNS.length - 1)
  t.equal(BUCKET_COLUMNS.length, LATENCY_BOUNDS_MS.length + 1)
})

t.test('quantile: linear inside the bucket holding the rank, as Prometheus reads a histogram', async (t) => {
  t.equal(quantile(0.5, counts({})), null, 'nothing counted')
  const i200 = LATENCY_BOUNDS_MS.indexOf(200)
  const i500 = LATENCY_BOUNDS_MS.indexOf(500)
  // 90 calls at ≤ 1 ms, 10 between 200 and 500 ms.
  const series = counts({ 0: 90, [i500]: 10 })
  t.equal(quantile(0.5, series), 0.6, '50th of 90 in 0–1 ms')
  t.equal(quantile(0.9, series), 1, 'the 90th is the last quick one')
  t.equal(quantile(0.95, series), 350)
  t.equal(quantile(0.99, series), 470)
  t.equal(quantile(1, series), 500)
  t.equal(quantile(0.5, counts({ [i200]: 4 })), 150, 'in the 100–200 bucket')
  t.equal(quantile(0.99, counts({ [BUCKET_COLUMNS.length - 1]: 3 })), 240_000, 'the open bucket answers with the highest bound')
})
