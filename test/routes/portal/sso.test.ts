// Single sign-on through real OpenID providers on loopback: oidc-provider (certified) for the flows,
// a rogue provider for ID tokens that must be refused.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, Client, DEV, countOf, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { ProviderBrowser, startOidcProvider, startRogueProvider, type RogueMode } from '../../fixtures/oidc'
import { startSmtp } from '../../smtp'
import { generateSync } from 'otplib'
import { TestClock } from '../../clock'

const PORTAL = 'http://localhost:3000'

interface Teardown { teardown: (fn: () => unknown) => void }

interface ProviderFields { name: string, issuer: string, clientId: string, clientSecret: string, groupsClaim?: string, groupMap?: string, createAccounts?: boolean, allowedDomains?: string, localMfa?: boolean, scopes?: string }

/** Adds a provider through the admin form; its id. */
async function addProvider (_app: FastifyInstance, admin: Client, fields: ProviderFields): Promise<number> {
  const form: Record<string, string> = {
    name: fields.name, issuer: fields.issuer, clientId: fields.clientId, clientSecret: fields.clientSecret,
    scopes: fields.scopes ?? 'openid email profile groups', groupsClaim: fields.groupsClaim ?? '', groupMap: fields.groupMap ?? '', allowedDomains: fields.allowedDomains ?? '', enabled: 'on'
  }
  if (fields.createAccounts === true) form.createAccounts = 'on'
  if (fields.localMfa === true) form.localMfa = 'on'
  await admin.get('/admin/identity/new')
  const res = await admin.post('/admin/identity', form)
  if (res.statusCode !== 303) throw new Error(`provider not added: ${res.statusCode} ${res.body.slice(0, 2000)}`)
  return Number(/\/admin\/identity\/(\d+)$/.exec(String(res.headers.location))?.[1])
}

/** Starts a sign-in on the portal's page and walks the provider's forms; the callback URL it sends the browser to. */
async function toCallback (client: Client, browser: ProviderBrowser, providerId: number, login: string, next = ''): Promise<string> {
  await client.get('/signin')
  const start = await client.post(`/signin/oidc/${providerId}`, next === '' ? {} : { next })
  if (start.statusCode !== 303) throw new Error(`start: ${start.statusCode} ${start.body.slice(0, 500)}`)
  return await browser.walk(String(start.headers.location), login)
}

function pathOf (url: string): string {
  const u = new URL(url)
  return `${u.pathname}${u.search}`
}

async function setup (t: Teardown) {
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { PUBLIC_URL: PORTAL, SMTP_URL: smtp.url })
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  return { app, admin, smtp }
}

t.test('first sign-in creates an account with mapped groups; the next one syncs a changed claim', async (t) => {
  const { app, admin, smtp } = await setup(t)
  await admin.post('/admin/groups', { name: 'Partners', description: '' })
  await admin.post('/admin/groups', { name: 'Beta', description: '' })
  const idp = await startOidcProvider(t, PORTAL, { alice: { email: 'alice@corp.example', email_verified: true, given_name: 'Alice', family_name: 'Liddell', groups: ['partners', 'beta-testers'] } })
  const id = await addProvider(app, admin, { name: 'Corp SSO', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, groupsClaim: 'groups', groupMap: 'partners = Partners\nbeta-testers = Beta', createAccounts: true })

  const page = await new Client(app).get('/signin')
  t.match(page.body, /Sign in with Corp SSO/, 'the sign-in page offers the provider')

  const client = new Client(app)
  const browser = new ProviderBrowser()
  const callback = await toCallback(client, browser, id, 'alice')
  t.match(callback, new RegExp(`^${PORTAL}/signin/oidc/${id}/callback\\?code=`), 'the provider sends the browser back to the registered redirect URI')
  const done = await client.get(pathOf(callback))
  t.equal(done.statusCode, 303, done.body.slice(0, 300))
  t.equal(done.headers.location, '/')
  const account = await app.db('developers').where('email_normalized', 'alice@corp.example').first()
  t.equal(account.state, 'active')
  t.equal(account.first_name, 'Alice')
  t.equal(account.password_hash, null, 'no password: the provider is the way in')
  const groups = (await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').where('developer_id', account.id).pluck('groups.name')).sort()
  t.same(groups, ['Beta', 'Developers', 'Partners'])
  t.equal((await client.get('/profile')).statusCode, 200, 'signed in')
  const session = await app.db('sessions').where('account_id', account.id).first()
  t.notMatch(session.data, /alice|Liddell|eyJ/, 'the session names nobody: the ID token (the sign-out hint) is sealed')
  t.ok(await app.db('audit_events').where({ action: 'developer.created', target_id: account.id }).first(), 'created through Add user\'s verb, audited')
  t.ok(await app.db('audit_events').where({ action: 'developer.signed-in-with-provider', target_id: account.id }).first())
  const [welcome] = await smtp.waitForSubject(/Welcome/i)
  t.match(JSON.stringify(welcome.to), /alice@corp\.example/, 'the welcome email, as for Add user')

  // The claim changes at the provider: the next sign-in leaves Beta, keeps Partners.
  idp.people.set('alice', { email: 'alice@corp.example', email_verified: true, given_name: 'Alice', family_name: 'Liddell', groups: ['partners'] })
  const again = new Client(app)
  const second = await again.get(pathOf(await toCallback(again, browser, id, 'alice')))
  t.equal(second.statusCode, 303)
  const after = (await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').where('developer_id', account.id).pluck('groups.name')).sort()
  t.same(after, ['Developers', 'Partners'], 'an unmapped group stays, a mapped one whose value is gone is left')
  t.equal(await countOf(app.db('developers').where('email_normalized', 'alice@corp.example')), 1, 'no second account')
})

t.test('links an existing account by verified email; activates an invited one; refuses unknown, blocked, unverified and other domains', async (t) => {
  const { app, admin } = await setup(t)
  const dev = await createDeveloper(app)
  const idp = await startOidcProvider(t, PORTAL, {
    dev: { email: DEV.email.toUpperCase(), email_verified: true, name: 'Dev Eloper' },
    invited: { email: 'invited@example.com', email_verified: true, given_name: 'In', family_name: 'Vited' },
    stranger: { email: 'stranger@example.com', email_verified: true },
    unverified: { email: 'unverified@example.com', email_verified: false },
    outside: { email: 'someone@elsewhere.example', email_verified: true }
  })
  const id = await addProvider(app, admin, { name: 'Corp', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, allowedDomains: 'example.com' })

  const linked = new Client(app)
  const res = await linked.get(pathOf(await toCallback(linked, new ProviderBrowser(), id, 'dev')))
  t.equal(res.statusCode, 303)
  t.equal((await linked.get('/profile')).statusCode, 200, 'signed in as the existing account')
  t.ok(await app.db('account_identities').where({ provider_id: id, developer_id: dev.id, subject: 'dev' }).first(), 'linked')

  await admin.get('/admin/invitations')
  await admin.post('/admin/invitations', { firstName: 'In', lastName: 'Vited', email: 'invited@example.com' })
  t.equal((await app.db('developers').where('email_normalized', 'invited@example.com').first()).state, 'pending')
  const invited = new Client(app)
  t.equal((await invited.get(pathOf(await toCallback(invited, new ProviderBrowser(), id, 'invited')))).statusCode, 303)
  t.equal((await app.db('developers').where('email_normalized', 'invited@example.com').first()).state, 'active', 'the invitation is accepted by the sign-in')

  for (const [login, message, status] of [
    ['stranger', /There is no account for this email\. Ask for an invitation\./, 403],
    ['unverified', /has not verified the email address/, 403],
    ['outside', /Accounts of elsewhere\.example cannot sign in with Corp/, 403]
  ] as const) {
    const client = new Client(app)
    const refused = await client.get(pathOf(await toCallback(client, new ProviderBrowser(), id, login)))
    t.equal(refused.statusCode, status, login)
    t.match(refused.body, message, login)
    t.equal(client.cookies.has('portico_session'), false, `${login}: no session`)
  }
  t.equal(await countOf(app.db('developers').where('email_normalized', 'stranger@example.com')), 0, 'createAccounts off: nothing created')

  await admin.post(`/admin/developers/${dev.id}/block`)
  const blocked = new Client(app)
  const out = await blocked.get(pathOf(await toCallback(blocked, new ProviderBrowser(), id, 'dev')))
  t.equal(out.statusCode, 403)
  t.match(out.body, /cannot sign in/)
  t.ok(await app.db('audit_events').where({ action: 'developer.provider-sign-in-refused' }).first(), 'refusals are audited')
})

t.test('state: single use, bound to the browser that started; a code from one provider refused at the other\'s callback', async (t) => {
  const { app, admin } = await setup(t)
  await createDeveloper(app)
  const a = await startOidcProvider(t, PORTAL, { dev: { email: DEV.email, email_verified: true } })
  const b = await startOidcProvider(t, PORTAL, { dev: { email: DEV.email, email_verified: true } })
  const idA = await addProvider(app, admin, { name: 'Alpha', issuer: a.issuer, clientId: a.clientId, clientSecret: a.clientSecret })
  const idB = await addProvider(app, admin, { name: 'Beta', issuer: b.issuer, clientId: b.clientId, clientSecret: b.clientSecret })
  const browser = new ProviderBrowser()

  // Another browser's callback: this browser has no state cookie for it.
  const starter = new Client(app)
  const callback = await toCallback(starter, browser, idA, 'dev')
  const cookie = starter.cookies.get('portico_oidc') ?? ''
  const thief = new Client(app)
  const stolen = await thief.get(pathOf(callback))
  t.equal(stolen.statusCode, 400)
  t.match(stolen.body, /not started in this browser/)

  // Mix-up: the code and state from Alpha brought to Beta's callback, with Alpha's cookie.
  const mixed = await new Client(app).request({ method: 'GET', url: pathOf(callback).replace(`/oidc/${idA}/`, `/oidc/${idB}/`), cookies: { portico_oidc: cookie } })
  t.equal(mixed.statusCode, 400)
  t.match(mixed.body, /another identity provider/)

  // The right browser completes it once; the same callback again (cookie and all) is refused.
  t.equal((await starter.get(pathOf(callback))).statusCode, 303)
  const replay = await new Client(app).request({ method: 'GET', url: pathOf(callback), cookies: { portico_oidc: cookie } })
  t.equal(replay.statusCode, 400)
  t.match(replay.body, /already completed/)

  // A visitor who only reads the sign-in page gets no session row.
  const sessions = await countOf(app.db('sessions'))
  await new Client(app).get('/signin')
  const reader = new Client(app)
  await reader.get('/signin')
  await reader.post(`/signin/oidc/${idA}`)
  t.equal(await countOf(app.db('sessions')), sessions, 'starting a sign-in writes no session')
  t.match(String(reader.cookies.get('portico_oidc')), /^v1\./, 'the state is in a sealed cookie')
})

t.test('ID tokens with a wrong iss, a wrong aud, expired, alg none, another nonce or a bad signature are refused with a page', async (t) => {
  const { app, admin } = await setup(t)
  await createDeveloper(app, { ...DEV, email: 'rogue@example.com' })
  const rogue = await startRogueProvider(t)
  const id = await addProvider(app, admin, { name: 'Rogue', issuer: rogue.issuer, clientId: rogue.clientId, clientSecret: rogue.clientSecret, scopes: 'openid email' })
  const signInWith = async (mode: RogueMode) => {
    rogue.mode = mode
    const client = new Client(app)
    await client.get('/signin')
    const start = await client.post(`/signin/oidc/${id}`)
    const back = await fetch(String(start.headers.location), { redirect: 'manual' })
    return { client, res: await client.get(pathOf(String(back.headers.get('location')))) }
  }
  const good = await signInWith('good')
  t.equal(good.res.statusCode, 303, `the rogue's good token works: ${good.res.body.slice(0, 300)}`)
  for (const mode of ['wrong-iss', 'wrong-aud', 'expired', 'alg-none', 'wrong-nonce', 'bad-signature'] as const) {
    const { client, res } = await signInWith(mode)
    t.equal(res.statusCode, 400, `${mode}: ${res.statusCode}`)
    t.match(res.body, /could not be accepted/, mode)
    t.notMatch(res.body, /at .*\.js:\d+/, `${mode}: no stack trace`)
    t.equal(client.cookies.has('portico_session'), false, `${mode}: not signed in`)
  }
  const failures = await app.db('audit_events').where({ action: 'developer.provider-sign-in-refused', target_type: 'identity-provider', target_id: id }).pluck('details')
  t.equal(failures.length, 6, 'every refused callback is audited')
  t.match(failures.join(' '), /could not be accepted/)
})

t.test('a provider that puts the email in its userinfo answer only: read from there', async (t) => {
  const { app, admin } = await setup(t)
  await createDeveloper(app)
  const idp = await startOidcProvider(t, PORTAL, { dev: { email: DEV.email, email_verified: true } }, { claimsInUserinfoOnly: true })
  const id = await addProvider(app, admin, { name: 'Plain', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret })
  const client = new Client(app)
  const res = await client.get(pathOf(await toCallback(client, new ProviderBrowser(), id, 'dev')))
  t.equal(res.statusCode, 303, res.body.slice(0, 300))
  t.equal((await client.get('/profile')).statusCode, 200)
})

t.test('the provider says no (error=access_denied): a page, not a 500', async (t) => {
  const { app, admin } = await setup(t)
  const idp = await startOidcProvider(t, PORTAL)
  const id = await addProvider(app, admin, { name: 'Corp', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret })
  const client = new Client(app)
  await client.get('/signin')
  const start = await client.post(`/signin/oidc/${id}`)
  const state = new URL(String(start.headers.location)).searchParams.get('state') ?? ''
  const res = await client.get(`/signin/oidc/${id}/callback?error=access_denied&error_description=User+cancelled&state=${state}`)
  t.equal(res.statusCode, 400)
  t.match(res.body, /Corp did not sign you in \(access_denied: User cancelled\)/)
  const unknown = await client.get('/signin/oidc/999/callback?code=x&state=y')
  t.equal(unknown.statusCode, 404)
})

t.test('password sign-in off: providers only for developers, administrators keep their password; auto-redirect; sign-out at the provider', async (t) => {
  const { app, admin } = await setup(t)
  await createDeveloper(app)
  const idp = await startOidcProvider(t, PORTAL, { dev: { email: DEV.email, email_verified: true } })
  const id = await addProvider(app, admin, { name: 'Corp', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret })
  await admin.get('/admin/settings')
  const saved = await admin.post('/admin/settings', { orgName: 'Portico', termsOfUse: '', signupEnabled: 'on', signInFields: '1' })
  t.equal(saved.statusCode, 303)

  const visitor = new Client(app)
  const page = await visitor.get('/signin')
  t.match(page.body, /Sign in with Corp/)
  t.notMatch(page.body, /name="password"/, 'no password form for developers')
  t.notMatch(page.body, /href="\/signup"/, 'no sign-up')
  t.equal((await visitor.get('/signup')).statusCode, 404)
  t.match(page.body, /href="\/signin\?password=1"/, 'the administrators\' way back in')
  t.match((await visitor.get('/signin?password=1')).body, /name="password"/)
  const devTry = await new Client(app).signIn(DEV.email, DEV.password)
  t.equal(devTry.statusCode, 400, 'a developer\'s right password does not sign in')
  t.equal((await new Client(app).signIn(ADMIN.email, ADMIN.password)).statusCode, 303, 'an administrator\'s does')

  await admin.post('/admin/settings', { orgName: 'Portico', termsOfUse: '', signInFields: '1', autoRedirect: 'on' })
  const auto = await new Client(app).get('/signin?next=/apis')
  t.equal(auto.statusCode, 303)
  t.ok(String(auto.headers.location).startsWith(`${idp.issuer}/auth?`), 'one provider, auto-redirect: straight to it')
  t.equal((await new Client(app).get('/signin?notice=signed-out')).statusCode, 200, 'not right after signing out')

  // Sign in through the provider, then out: the provider's end-session endpoint, then back to /signin.
  const client = new Client(app)
  const browser = new ProviderBrowser()
  const start = await client.get('/signin?next=/apis')
  const callback = await browser.walk(String(start.headers.location), 'dev')
  const done = await client.get(pathOf(callback))
  t.equal(done.headers.location, '/apis', 'next is kept through the provider')
  await client.get('/profile')
  const out = await client.post('/signout')
  t.equal(out.statusCode, 303)
  const endSession = String(out.headers.location)
  t.ok(endSession.startsWith(`${idp.issuer}/session/end?`), endSession)
  t.equal(new URL(endSession).searchParams.get('post_logout_redirect_uri'), `${PORTAL}/signin`)
  const back = await browser.walk(endSession, 'dev')
  t.equal(back, `${PORTAL}/signin?state=signed-out`, 'the provider sends the browser back to the sign-in page')
  const landed = await client.get(pathOf(back))
  t.equal(landed.statusCode, 200, 'no auto-redirect right after signing out')
  t.match(landed.body, /You have signed out/)
  t.equal(idp.endSessions(), 1)
  t.equal((await client.get('/profile')).statusCode, 303, 'signed out of the portal')
  void id
})

t.test('identity providers admin: validation beside the fields, secret write-only and sealed, audited, delete behind a confirmation', async (t) => {
  const { app, admin } = await setup(t)
  const idp = await startOidcProvider(t, PORTAL)
  await admin.get('/admin/identity/new')
  const bad = await admin.post('/admin/identity', { name: '', issuer: 'ftp://x', clientId: '', clientSecret: '', scopes: 'email', groupsClaim: 'no spaces allowed', groupMap: 'x = Nowhere', allowedDomains: 'not a domain' })
  t.equal(bad.statusCode, 400)
  for (const message of [/Enter the name|name/, /https:\/\//, /client ID/, /client secret/, /must include openid/, /letters, digits and/, /not a domain/]) t.match(bad.body, message)
  const unreachable = await admin.post('/admin/identity', { name: 'Down', issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: 'y', scopes: '', groupsClaim: '', groupMap: '', allowedDomains: '', enabled: 'on' })
  t.equal(unreachable.statusCode, 400)
  t.match(unreachable.body, /discovery document .* could not be read/)
  t.match(unreachable.body, /value="Down"/, 'input kept')

  const id = await addProvider(app, admin, { name: 'Corp', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret })
  const row = await app.db('identity_providers').where('id', id).first()
  t.notMatch(row.client_secret, new RegExp(idp.clientSecret), 'sealed at rest')
  t.match(row.client_secret, /^v1\./)
  const edit = await admin.get(`/admin/identity/${id}`)
  t.notMatch(edit.body, new RegExp(idp.clientSecret), 'never shown again')
  t.match(edit.body, new RegExp(`${PORTAL}/signin/oidc/${id}/callback`.replace(/\//g, '\\/')), 'the redirect URI to register')
  const list = await admin.get('/admin/identity')
  t.match(list.body, /Corp/)
  t.notMatch(list.body, new RegExp(idp.clientSecret))

  // An edit with an empty secret keeps the old one (sign-in still works).
  const saved = await admin.post(`/admin/identity/${id}`, { name: 'Corp ID', issuer: idp.issuer, clientId: idp.clientId, clientSecret: '', scopes: 'openid email', groupsClaim: '', groupMap: '', allowedDomains: '', enabled: 'on' })
  t.equal(saved.statusCode, 303)
  t.equal((await app.db('identity_providers').where('id', id).first()).client_secret, row.client_secret)
  t.ok(await app.db('audit_events').where({ action: 'identity-provider.edited', target_id: id }).first())

  const confirm = await admin.get(`/admin/identity/${id}/delete`)
  t.match(confirm.body, /Delete Corp ID\?/)
  t.equal((await admin.post(`/admin/identity/${id}/delete`)).statusCode, 303)
  t.equal(await countOf(app.db('identity_providers')), 0)
  t.ok(await app.db('audit_events').where({ action: 'identity-provider.deleted' }).first())
  t.equal((await admin.get(`/admin/identity/${id}`)).statusCode, 404)
})

t.test('a provider marked localMfa leads to Portico\'s code step; others skip it', async (t) => {
  const { app, admin } = await setup(t)
  await createDeveloper(app)
  const dev = await signedInClient(app, DEV)
  const page = await dev.get('/profile/mfa')
  const secret = /id="mfa-secret">([A-Z2-7]+)</.exec(page.body)?.[1] ?? ''
  t.equal((await dev.post('/profile/mfa', { code: generateSync({ secret }) })).statusCode, 200)
  const idp = await startOidcProvider(t, PORTAL, { dev: { email: DEV.email, email_verified: true } })
  const trusted = await addProvider(app, admin, { name: 'Trusted', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret })
  const strict = await addProvider(app, admin, { name: 'Strict', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, localMfa: true })

  const skip = new Client(app)
  const skipped = await skip.get(pathOf(await toCallback(skip, new ProviderBrowser(), trusted, 'dev')))
  t.equal(skipped.headers.location, '/', 'the provider\'s own sign-in is trusted')

  const ask = new Client(app)
  const asked = await ask.get(pathOf(await toCallback(ask, new ProviderBrowser(), strict, 'dev')))
  t.equal(asked.headers.location, '/signin/mfa')
  t.equal((await ask.get('/profile')).statusCode, 303, 'not signed in before the code')
  // A code of a later step than the one used to enrol (each code works once).
  const code = generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + 30 })
  const done = await ask.post('/signin/mfa', { code })
  t.equal(done.statusCode, 303, done.body.slice(0, 200))
  t.equal((await ask.get('/profile')).statusCode, 200)
  const out = await ask.post('/signout')
  t.ok(String(out.headers.location).startsWith(`${idp.issuer}/session/end`), 'still signed out at the provider afterwards')
})

t.test('a sign-in older than 10 minutes is refused; the last active administrator is never mapped out of Administrators', async (t) => {
  const clock = new TestClock()
  const app = await makeApp(t, { PUBLIC_URL: PORTAL }, { clock })
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  const idp = await startOidcProvider(t, PORTAL, { ada: { email: ADMIN.email, email_verified: true, groups: [] } })
  const id = await addProvider(app, admin, { name: 'Corp', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, groupsClaim: 'groups', groupMap: 'portal-admins = Administrators' })

  const slow = new Client(app)
  const callback = await toCallback(slow, new ProviderBrowser(), id, 'ada')
  clock.advance(10 * 60_000 + 1000)
  const late = await slow.get(pathOf(callback))
  t.equal(late.statusCode, 400)
  t.match(late.body, /longer than 10 minutes/)
  clock.advance(-(10 * 60_000 + 1000))

  // Ada is the only administrator and the claim does not list portal-admins: she stays one.
  const client = new Client(app)
  const res = await client.get(pathOf(await toCallback(client, new ProviderBrowser(), id, 'ada')))
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/admin', 'an administrator lands on the publisher portal')
  t.equal((await client.get('/admin')).statusCode, 200, 'still an administrator')
})
