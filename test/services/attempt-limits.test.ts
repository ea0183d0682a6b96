import t from 'tap'
import { createAttemptLimits } from '../../src/services/kernel/attempt-limits'
import { makeApp } from '../helpers'
import { TestClock } from '../clock'

t.test('reservations: atomic under concurrency, a window that starts again, pruned when over', async (t) => {
  const clock = new TestClock()
  const app = await makeApp(t, {}, { clock })
  const limits = createAttemptLimits({ db: app.db, clock })
  // 50 at once for one subject (on PostgreSQL, over several connections): exactly 10 allowed.
  const results = await Promise.all(Array.from({ length: 50 }, async () => await limits.reserve('password-check', 'dev@example.com', 10, 60_000)))
  t.equal(results.filter((r) => r.allowed).length, 10)
  const refused = results.find((r) => !r.allowed)
  t.ok(refused !== undefined && refused.retryAfterSeconds > 0 && refused.retryAfterSeconds <= 60, 'says how long to wait')
  t.equal((await limits.reserve('email-sent', 'dev@example.com', 1, 60_000)).allowed, true, 'another scope counts apart')

  clock.advance(61_000)
  t.equal((await limits.reserve('password-check', 'dev@example.com', 10, 60_000)).allowed, true, 'a new window')
  t.equal(await limits.prune(), 1, 'the ended email-sent window is pruned')
  clock.advance(61_000)
  t.equal(await limits.prune(), 1)
  t.equal(Number((await app.db('attempt_counters').count({ n: '*' }).first())?.n), 0, 'nothing kept past its window')

  await limits.reserve('password-check', 'dev@example.com', 1, 60_000)
  t.equal((await limits.reserve('password-check', 'dev@example.com', 1, 60_000)).allowed, false)
  await limits.clear('password-check', 'dev@example.com')
  t.equal((await limits.reserve('password-check', 'dev@example.com', 1, 60_000)).allowed, true, 'cleared')
})
