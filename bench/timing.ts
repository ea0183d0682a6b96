/**
 * Can the answer's timing tell whether an email has an account? For password reset, resend of the
 * sign-up confirmation and email change, sends requests for a known and an unknown address in random
 * order and guesses "known" when an answer is slower than the median. Prints the guess accuracy
 * (50% = no information; target ≤ 55%). Run: npm run bench:timing
 */
import type { AddressInfo } from 'node:net'
import { run, withApp } from './lib/app'
import { percentile, postForm, visit, type Visitor } from './lib/http'

const SAMPLES = 400
const PASSWORD = 'benchmarks are not tests'

/** The best a threshold at the median can do: the share of answers it classifies right. */
function guessAccuracy (samples: Array<{ known: boolean, ms: number }>): number {
  const median = percentile(samples.map((s) => s.ms), 50)
  const right = samples.filter((s) => (s.ms > median) === s.known).length / samples.length
  return Math.max(right, 1 - right)
}

async function main (): Promise<void> {
  await withApp({ PASSWORD_HASH_COST: '12', RATE_LIMIT_PER_MINUTE: '100000', SIGNIN_FAILURE_LIMIT: '100000', EMAILS_PER_ADDRESS_PER_HOUR: '100000' }, async (app) => {
    const dev = await app.services.accounts.createFirstAdministrator({ firstName: 'Bench', lastName: 'Dev', email: 'known@example.com', password: PASSWORD }, null)
    await app.services.signUp.signUp({ firstName: 'Pat', lastName: 'Pending', email: 'pending@example.com', password: PASSWORD, acceptTerms: true }, null)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const anonymous = await visit(base, '/signin')
    const signIn = await postForm(base, '/signin', anonymous, { email: dev.email, password: PASSWORD })
    if (signIn.status !== 303) throw new Error(`sign-in failed: ${signIn.status}`)

    const cases: Array<{ name: string, path: string, visitor: () => Promise<Visitor>, fields: (known: boolean) => Record<string, string> }> = [
      { name: 'password reset', path: '/password-reset', visitor: async () => anonymous, fields: (known) => ({ email: known ? 'known@example.com' : 'nobody@example.com' }) },
      { name: 'resend confirmation', path: '/signup/resend', visitor: async () => anonymous, fields: (known) => ({ email: known ? 'pending@example.com' : 'nobody@example.com' }) },
      { name: 'email change (taken?)', path: '/profile/email', visitor: async () => await signedIn(base), fields: (known) => ({ email: known ? 'pending@example.com' : `free${Math.random()}@example.com`, password: PASSWORD }) }
    ]
    for (const c of cases) {
      const visitor = await c.visitor()
      const samples: Array<{ known: boolean, ms: number }> = []
      for (let i = 0; i < SAMPLES; i++) {
        const known = Math.random() < 0.5
        const { ms } = await postForm(base, c.path, visitor, c.fields(known))
        if (i >= 20) samples.push({ known, ms }) // the first ones warm up
      }
      await app.services.background.idle()
      const mean = (known: boolean): number => { const xs = samples.filter((s) => s.known === known).map((s) => s.ms); return xs.reduce((a, b) => a + b, 0) / xs.length }
      process.stdout.write(`${c.name.padEnd(24)} known ${mean(true).toFixed(2)} ms  unknown ${mean(false).toFixed(2)} ms  guess accuracy ${(guessAccuracy(samples) * 100).toFixed(1)}%\n`)
    }
  })
}

/** A session signed in as the bench developer (its cookie carries the session and CSRF secret). */
async function signedIn (base: string): Promise<Visitor> {
  const anonymous = await visit(base, '/signin')
  const res = await fetch(`${base}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: anonymous.cookie },
    body: new URLSearchParams({ _csrf: anonymous.csrf, email: 'known@example.com', password: PASSWORD }).toString()
  })
  const session = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
  const page = await visit(base, '/profile', { cookie: `${anonymous.cookie}; ${session}` })
  return { cookie: `${anonymous.cookie}; ${session}`, csrf: page.csrf }
}

run(main)
