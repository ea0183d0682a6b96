import t, { type Test } from 'tap'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { TestClock } from '../../clock'
import { linkIn, startSmtp } from '../../smtp'

const NEW = { firstName: 'Nia', lastName: 'New', email: 'nia@example.com', password: 'nia picks a long passphrase' }

async function setup (t: Test, env: Record<string, string> = {}, clock = new TestClock()) {
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url, ...env }, { clock })
  await createAdmin(app)
  return { app, smtp, clock }
}

t.test('portal home: visitors see the organisation and links to sign in and sign up', async (t) => {
  const { app } = await setup(t, { ORG_NAME: 'Acme APIs' })
  const home = await new Client(app).get('/')
  t.match(home.body, /<h1>Acme APIs developer portal<\/h1>/)
  t.match(home.body, /href="\/signin"/)
  t.match(home.body, /href="\/signup"/)
})

t.test('sign up → confirmation email → GET shows, POST activates → welcome → sign in', async (t) => {
  const { app, smtp } = await setup(t)
  const client = new Client(app)
  t.equal((await client.get('/signup')).statusCode, 200)
  const res = await client.post('/signup', NEW)
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/signup/sent')
  t.match((await client.get('/signup/sent')).body, /Check your email/)
  const row = await app.db('developers').where('email_normalized', NEW.email).first()
  t.equal(row.state, 'pending')
  t.notMatch((await signedInClient(app, ADMIN).then((a) => a.get('/admin/developers'))).body, /nia@example\.com/, 'not listed before confirmation')

  const [mail] = await smtp.waitForSubject(/Confirm your Portico developer account/)
  const link = linkIn(mail, 'confirm')
  t.match(link, /^http:\/\/localhost:3000\/confirm\//)
  t.equal((await new Client(app).signIn(NEW.email, NEW.password)).statusCode, 400, 'an unconfirmed account cannot sign in')

  const path = new URL(link).pathname
  const page = await client.get(path)
  t.equal(page.statusCode, 200)
  t.match(page.body, /nia@example\.com/)
  t.equal((await app.db('developers').where('id', row.id).first()).state, 'pending', 'GET changes nothing')
  const confirmed = await client.post(path)
  t.equal(confirmed.statusCode, 303)
  t.equal(confirmed.headers.location, '/signin')
  t.match((await client.get('/signin')).body, /Your account nia@example\.com is active/)
  t.equal((await app.db('developers').where('id', row.id).first()).state, 'active')
  const groups = await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').where('developer_id', row.id).pluck('system_key')
  t.same(groups, ['developers'])
  await smtp.waitForSubject(/Welcome/)
  t.equal((await new Client(app).signIn(NEW.email, NEW.password)).statusCode, 303)
  t.equal((await new Client(app).post(path)).statusCode, 404, 'single use')
  const audit = await (await signedInClient(app, ADMIN)).get('/admin/audit?action=developer.confirmed')
  t.equal(audit.statusCode, 200, 'self-service actions can be filtered too')
  t.match(audit.body, /1 event</)
})

t.test('the same answer whether or not the email is taken; the owner hears someone tried', async (t) => {
  const { app, smtp } = await setup(t)
  await createDeveloper(app)
  const fresh = await new Client(app).post('/signup', NEW)
  const taken = await new Client(app).post('/signup', { ...NEW, email: ' DEV@example.com' })
  t.equal(taken.statusCode, fresh.statusCode)
  t.equal(taken.headers.location, fresh.headers.location)
  const [notice] = await smtp.waitForSubject(/Someone tried to sign up/)
  t.equal(notice.to && !Array.isArray(notice.to) ? notice.to.value[0].address : null, 'dev@example.com')
  t.equal(Number((await app.db('developers').where('email_normalized', 'dev@example.com').count({ n: '*' }).first())?.n), 1)
  t.equal((await new Client(app).signIn(DEV.email, DEV.password)).statusCode, 303, 'the existing password is untouched')
})

t.test('bad input is 400 beside the field; terms must be agreed to when set', async (t) => {
  const { app } = await setup(t)
  const bad = await new Client(app).post('/signup', { firstName: '', lastName: 'X', email: 'x', password: 'passwordpassword' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Enter the first name/)
  t.match(bad.body, /too common/)

  const admin = await signedInClient(app, ADMIN)
  await admin.post('/admin/settings', { signupEnabled: 'on', termsOfUse: 'Be nice to the <API>.', orgName: 'Portico' })
  const page = await new Client(app).get('/signup')
  t.match(page.body, /Be nice to the &lt;API&gt;\./)
  const refused = await new Client(app).post('/signup', NEW)
  t.equal(refused.statusCode, 400)
  t.match(refused.body, /Agree to the terms of use/)
  t.equal(await app.db('developers').where('email_normalized', NEW.email).first(), undefined)
  t.equal((await new Client(app).post('/signup', { ...NEW, acceptTerms: 'on' })).statusCode, 303)
})

t.test('the sign-in page offers to resend the confirmation; a new link ends the old one', async (t) => {
  const { app, smtp } = await setup(t)
  await new Client(app).post('/signup', NEW)
  const first = new URL(linkIn((await smtp.waitForSubject(/Confirm/))[0], 'confirm')).pathname
  const signin = await new Client(app).get('/signin')
  t.match(signin.body, /href="\/signup\/resend"/)
  const resend = await new Client(app).post('/signup/resend', { email: NEW.email.toUpperCase() })
  t.equal(resend.statusCode, 303)
  t.equal(resend.headers.location, '/signup/sent')
  const second = new URL(linkIn((await smtp.waitForSubject(/Confirm/, 2))[1], 'confirm')).pathname
  t.equal((await new Client(app).get(first)).statusCode, 404)
  t.equal((await new Client(app).get(second)).statusCode, 200)
  const unknown = await new Client(app).post('/signup/resend', { email: 'nobody@example.com' })
  t.equal(unknown.headers.location, '/signup/sent', 'same answer for unknown emails')
  t.equal((await new Client(app).post('/signup/resend', { email: 'bad' })).statusCode, 400)
})

t.test('sign-up off closes /signup with 404, GET and POST', async (t) => {
  const { app } = await setup(t)
  const admin = await signedInClient(app, ADMIN)
  const saved = await admin.post('/admin/settings', { termsOfUse: '', orgName: 'Portico' })
  t.equal(saved.statusCode, 303)
  t.equal((await new Client(app).get('/signup')).statusCode, 404)
  t.equal((await new Client(app).post('/signup', NEW)).statusCode, 404)
  t.equal(await app.db('developers').where('email_normalized', NEW.email).first(), undefined)
  t.notMatch((await new Client(app).get('/')).body, /href="\/signup"/, 'no sign-up link')
})

t.test('an expired confirmation link is 410', async (t) => {
  const clock = new TestClock()
  const { app, smtp } = await setup(t, {}, clock)
  await new Client(app).post('/signup', NEW)
  const path = new URL(linkIn((await smtp.waitForSubject(/Confirm/))[0], 'confirm')).pathname
  clock.advance(49 * 3_600_000)
  t.equal((await new Client(app).get(path)).statusCode, 410)
})

t.test('sign-up, confirmation and password reset are rate-limited with a readable page', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_PER_MINUTE: '3' })
  for (const [url, fields] of [['/signup', NEW], ['/password-reset', { email: NEW.email }], ['/confirm/' + 'A'.repeat(43), {}]] as const) {
    const client = new Client(app, '203.0.113.9')
    await client.get('/signin')
    for (let i = 0; i < 3; i++) await client.post(url, fields)
    const limited = await client.post(url, fields)
    t.equal(limited.statusCode, 429, url)
    t.match(limited.body, /<h1>Too many attempts<\/h1>/)
  }
})
