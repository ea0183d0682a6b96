import t from 'tap'
import { createPasswordHasher, createWorkLimiter, passwordProblem } from '../../../src/services/accounts/passwords'
import { Busy } from '../../../src/services/kernel/errors'

t.test('policy: 15 to 256 characters, no composition rules', async (t) => {
  t.match(passwordProblem('fourteen chars'), /at least 15/)
  t.equal(passwordProblem('fifteen chars!!'), null)
  t.equal(passwordProblem('only lowercase words here'), null, 'no composition rules')
  t.equal(passwordProblem('ä'.repeat(10) + 'xyzuv'), null, 'counts characters, not bytes')
  const long = Array.from({ length: 256 }, (_, i) => String.fromCharCode(97 + (i * 7) % 26)).join('')
  t.equal(passwordProblem(long), null, '256 characters allowed')
  t.match(passwordProblem(long + 'q'), /at most 256/)
})

t.test('policy: common passwords from the bundled list are refused, in any case', async (t) => {
  t.match(passwordProblem('passwordpassword'), /too common/)
  t.match(passwordProblem('1qaz2wsx3edc4rfv'), /too common/)
  t.match(passwordProblem('QWERTY123456789'), /too common/, 'case does not matter')
  t.match(passwordProblem('iloveyou12345678'), /too common/, 'a common password padded with digits')
  t.match(passwordProblem('sunshine!!!!!!!!'), /too common/, 'padded with symbols')
  t.match(passwordProblem('aaaaaaaaaaaaaaaa'), /too common/, 'one character repeated')
  t.match(passwordProblem('abcabcabcabcabcabc'), /too common/, 'a short piece repeated')
  t.match(passwordProblem('dragon-dragon-dragon-'), /too common/)
  t.equal(passwordProblem('violet tractor sings loudly'), null)
})

t.test('policy: a password holding the email name is refused', async (t) => {
  t.match(passwordProblem('margaret-likes-long-walks', ['margaret']), /email/)
  t.equal(passwordProblem('margaret-likes-long-walks', ['bob']), null)
})

t.test('hashes are salted scrypt strings with their parameters, and verify', async (t) => {
  const hasher = createPasswordHasher(10)
  const a = await hasher.hash('violet tractor sings loudly')
  const b = await hasher.hash('violet tractor sings loudly')
  t.match(a, /^\$scrypt\$ln=10,r=8,p=1\$[\w-]{22}\$[\w-]{43}$/)
  t.not(a, b, 'a new salt each time')
  t.notMatch(a, /violet/)
  t.equal(await hasher.verify('violet tractor sings loudly', a), true)
  t.equal(await hasher.verify('violet tractor sings loudly!', a), false)
  t.equal(await hasher.verify('anything', null), false, 'no account: checked against a dummy, never true')
  t.equal(await hasher.verify('anything', 'not a hash'), false)
  // A hash made at another cost still verifies: the parameters travel in the string.
  t.equal(await createPasswordHasher(11).verify('violet tractor sings loudly', a), true)
})

t.test('the production cost (N=2^17, r=8, p=1) works within scrypt memory limits', async (t) => {
  const hasher = createPasswordHasher(17)
  const hash = await hasher.hash('violet tractor sings loudly')
  t.match(hash, /^\$scrypt\$ln=17,r=8,p=1\$/)
  t.equal(await hasher.verify('violet tractor sings loudly', hash), true)
})

t.test('the work limiter: never more than `concurrency` at once; a short queue; beyond it Busy', async (t) => {
  const limiter = createWorkLimiter({ concurrency: 2, queue: 3, maxWaitMs: 10_000 })
  let active = 0
  let peak = 0
  const releases: Array<() => void> = []
  const job = async (): Promise<string> => await limiter.run(async () => {
    active++
    peak = Math.max(peak, active)
    await new Promise<void>((resolve) => releases.push(resolve))
    active--
    return 'done'
  })
  const jobs = Array.from({ length: 7 }, async () => await job().catch((err: unknown) => err))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(limiter.stats(), { active: 2, waiting: 3 })
  while (releases.length > 0 || limiter.stats().active > 0) {
    releases.shift()?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const results = await Promise.all(jobs)
  t.equal(peak, 2)
  t.equal(results.filter((r) => r === 'done').length, 5)
  const refused = results.filter((r) => r instanceof Busy) as Busy[]
  t.equal(refused.length, 2, 'the two past the queue')
  t.equal(refused[0].statusCode, 503)
  t.same(limiter.stats(), { active: 0, waiting: 0 })
})

t.test('the work limiter: a wait longer than maxWaitMs is refused, and the queue moves on', async (t) => {
  const limiter = createWorkLimiter({ concurrency: 1, queue: 5, maxWaitMs: 50 })
  let release = (): void => {}
  const first = limiter.run(async () => await new Promise<void>((resolve) => { release = resolve }))
  const second = limiter.run(async () => 'late').catch((err: unknown) => err)
  t.ok(await second instanceof Busy, 'waited too long')
  release()
  await first
  t.equal(await limiter.run(async () => 'next'), 'next')
  t.same(limiter.stats(), { active: 0, waiting: 0 })
})
