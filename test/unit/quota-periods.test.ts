import t from 'tap'
import { hhmmss, periodEnd, periodStart } from '../../src/services/gateway/limits'

const at = (iso: string): number => Date.parse(iso)
const iso = (ms: number): string => new Date(ms).toISOString()

t.test('quota periods are UTC days, weeks from Monday and calendar months', async (t) => {
  const now = at('2026-12-02T21:55:23.456Z') // a Wednesday
  t.equal(iso(periodStart('day', now)), '2026-12-02T00:00:00.000Z')
  t.equal(iso(periodEnd('day', periodStart('day', now))), '2026-12-03T00:00:00.000Z')
  t.equal(iso(periodStart('week', now)), '2026-11-30T00:00:00.000Z', 'the Monday before')
  t.equal(iso(periodEnd('week', periodStart('week', now))), '2026-12-07T00:00:00.000Z')
  t.equal(iso(periodStart('week', at('2026-12-06T23:59:59.999Z'))), '2026-11-30T00:00:00.000Z', 'Sunday still belongs to that week')
  t.equal(iso(periodStart('week', at('2026-12-07T00:00:00.000Z'))), '2026-12-07T00:00:00.000Z', 'Monday starts the next')
  t.equal(iso(periodStart('month', now)), '2026-12-01T00:00:00.000Z')
  t.equal(iso(periodEnd('month', periodStart('month', now))), '2027-01-01T00:00:00.000Z', 'December ends in the next year')
  t.equal(iso(periodEnd('month', at('2028-02-01T00:00:00Z'))), '2028-03-01T00:00:00.000Z', 'a leap February')
  t.equal(iso(periodStart('day', at('2026-03-29T01:30:00Z'))), '2026-03-29T00:00:00.000Z', 'no daylight saving in UTC')
})

t.test('time left is shown as HH:MM:SS, hours past 24, rounded up, never negative', async (t) => {
  t.equal(hhmmss(0), '00:00:00')
  t.equal(hhmmss(1), '00:00:01')
  t.equal(hhmmss(3_661_000), '01:01:01')
  t.equal(hhmmss(7 * 86_400_000), '168:00:00')
  t.equal(hhmmss(-5), '00:00:00')
})
