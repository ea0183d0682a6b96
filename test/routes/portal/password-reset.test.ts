import t from 'tap'
import { Client, DEV, makeAppWithMail, sessionCount, signedInClient } from '../../helpers'
import { TestClock } from '../../clock'
import { linkIn } from '../../smtp'

t.test('password reset: same answer for all emails; one-hour single-use link; every session ends', async (t) => {
  const clock = new TestClock()
  const { app, smtp, dev } = await makeAppWithMail(t, clock)
  const signedIn = await signedInClient(app, DEV)
  const known = await new Client(app).post('/password-reset', { email: 'DEV@example.com' })
  const unknown = await new Client(app).post('/password-reset', { email: 'nobody@example.com' })
  t.equal(known.statusCode, 200)
  t.equal(unknown.statusCode, known.statusCode)
  t.equal(unknown.body.replace(/name="_csrf" value="[^"]+"/g, ''), known.body.replace(/name="_csrf" value="[^"]+"/g, ''), 'the same page')
  const [mail] = await smtp.waitForSubject(/Reset your/)
  await app.services.mailSender.flush()
  t.equal(smtp.messages.filter((m) => m.subject?.startsWith('Reset your')).length, 1, 'only the known email gets a link')
  const path = new URL(linkIn(mail, 'password-reset')).pathname

  const client = new Client(app)
  t.match((await client.get(path)).body, /Choose a new password/)
  t.equal((await client.post(path, { password: 'short' })).statusCode, 400)
  const done = await client.post(path, { password: 'a brand new passphrase' })
  t.equal(done.statusCode, 303)
  t.equal(done.headers.location, '/signin')
  t.equal(await sessionCount(app, dev.id), 0, 'every session ended')
  t.equal((await signedIn.get('/profile')).statusCode, 303)
  t.equal((await new Client(app).signIn(DEV.email, 'a brand new passphrase')).statusCode, 303)
  t.equal((await new Client(app).get(path)).statusCode, 404, 'single use')

  await new Client(app).post('/password-reset', { email: DEV.email })
  const later = new URL(linkIn((await smtp.waitForSubject(/Reset your/, 2))[1], 'password-reset')).pathname
  clock.advance(61 * 60_000)
  t.equal((await new Client(app).get(later)).statusCode, 410, 'valid one hour')
  t.equal((await new Client(app).post('/password-reset', { email: 'nope' })).statusCode, 400)
})
