import t from 'tap'
import { DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../helpers'

t.test('a session whose account stopped being active ends on its next request', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const client = await signedInClient(app, DEV)
  // Changed behind the app's back (another instance, a script): the reload on each request still sees it.
  await app.db('developers').where('id', dev.id).update({ state: 'blocked' })
  const res = await client.get('/profile')
  t.equal(res.statusCode, 303)
  t.match(String(res.headers.location), /^\/signin/)
  t.equal(await app.db('sessions').where('account_id', dev.id).first(), undefined, 'the old session is gone')
})
