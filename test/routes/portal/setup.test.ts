import t from 'tap'
import { ConfigError } from '../../../src/config'
import { buildApp } from '../../../src/app'
import { ADMIN, Client, makeApp, makeConfig } from '../../helpers'

t.test('a fresh install sends visitors to /setup, which creates the first administrator once', async (t) => {
  const app = await makeApp(t)
  const client = new Client(app)

  const home = await client.get('/')
  t.equal(home.statusCode, 303)
  t.equal(home.headers.location, '/setup')

  const page = await client.get('/setup')
  t.equal(page.statusCode, 200)
  t.match(page.body, /name="firstName"/)

  const bad = await client.post('/setup', { firstName: '<b>Ada</b>', lastName: '', email: 'not-an-email', password: 'short' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Enter the last name\./)
  t.match(bad.body, /Enter an email address like name@example\.com\./)
  t.match(bad.body, /Use at least 15 characters/)
  t.match(bad.body, /value="&lt;b&gt;Ada&lt;\/b&gt;"/, 'input kept, escaped')
  t.match(bad.body, /value="not-an-email"/)
  t.notMatch(bad.body, /value="short"/, 'the password is never echoed')

  const ok = await client.post('/setup', { firstName: 'Ada', lastName: 'Admin', email: ' Ada@Example.com ', password: ADMIN.password })
  t.equal(ok.statusCode, 303)
  t.equal(ok.headers.location, '/admin')
  const admin = await client.get('/admin')
  t.equal(admin.statusCode, 200, 'signed in as the new administrator')
  t.match(admin.body, /Your administrator account is ready/)

  const row = await app.db('developers').where('email_normalized', 'ada@example.com').first()
  t.equal(row.email, 'Ada@Example.com', 'stored trimmed')
  t.equal(row.state, 'active')
  const groups = await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').where('developer_id', row.id).pluck('groups.name')
  t.same(groups.sort(), ['Administrators', 'Developers'])
  t.ok(await app.db('audit_events').where({ action: 'administrator.created', target_id: row.id }).first(), 'audited')

  t.equal((await new Client(app).get('/setup')).statusCode, 404, '/setup is gone once an administrator exists')
  const again = await new Client(app).post('/setup', { firstName: 'Eve', lastName: 'Intruder', email: 'eve@example.com', password: 'another long passphrase here' })
  t.equal(again.statusCode, 404)
  t.equal(await app.db('developers').where('email_normalized', 'eve@example.com').first(), undefined)
  t.equal((await new Client(app).get('/')).statusCode, 200, 'the portal home is served once set up')
})

t.test('ADMIN_EMAIL and ADMIN_PASSWORD create the administrator headless at start', async (t) => {
  const app = await makeApp(t, { ADMIN_EMAIL: 'ops@example.com', ADMIN_PASSWORD: 'operations team passphrase' })
  t.equal((await new Client(app).get('/setup')).statusCode, 404)
  const client = new Client(app)
  const res = await client.signIn('ops@example.com', 'operations team passphrase')
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/admin')
})

t.test('a weak ADMIN_PASSWORD stops start-up naming the variable', async (t) => {
  const config = await makeConfig(t, { ADMIN_EMAIL: 'ops@example.com', ADMIN_PASSWORD: 'short' })
  const err: unknown = await buildApp(config).catch((e: unknown) => e)
  t.ok(err instanceof ConfigError)
  t.equal((err as ConfigError).variable, 'ADMIN_PASSWORD')
  t.match((err as ConfigError).message, /at least 15/)
})
