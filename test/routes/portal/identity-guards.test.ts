// Every route of single sign-on and two-step sign-in: who may reach it, and no POST without its CSRF token.
import t from 'tap'
import { ADMIN, Client, DEV, countOf, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { startOidcProvider } from '../../fixtures/oidc'

const PORTAL = 'http://localhost:3000'

t.test('administrators only: /admin/identity and the two-step reset', async (t) => {
  const app = await makeApp(t, { PUBLIC_URL: PORTAL })
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const idp = await startOidcProvider(t, PORTAL)
  const id = (await app.services.providers.createProvider({
    name: 'Corp', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, scopes: '', groupsClaim: '', groupMap: '', createAccounts: false, allowedDomains: '', enabled: true, localMfa: false
  }, { id: null, label: 'test', ip: null })).id
  const gets = ['/admin/identity', '/admin/identity/new', `/admin/identity/${id}`, `/admin/identity/${id}/delete`, `/admin/developers/${dev.id}/mfa/reset`]
  const posts = ['/admin/identity', `/admin/identity/${id}`, `/admin/identity/${id}/delete`, `/admin/developers/${dev.id}/mfa/reset`]
  const visitor = new Client(app)
  const developer = await signedInClient(app, DEV)
  const admin = await signedInClient(app, ADMIN)
  for (const url of gets) {
    const out = await visitor.get(url)
    t.equal(out.statusCode, 303, `signed out: GET ${url}`)
    t.match(String(out.headers.location), /^\/signin\?next=/)
    t.equal((await developer.get(url)).statusCode, 403, `developer: GET ${url}`)
    t.equal((await admin.get(url)).statusCode, 200, `administrator: GET ${url}`)
  }
  for (const url of posts) {
    await visitor.get('/signin')
    t.equal((await visitor.post(url, {})).statusCode, 303, `signed out: POST ${url}`)
    await developer.get('/profile')
    t.equal((await developer.post(url, {})).statusCode, 403, `developer: POST ${url}`)
    const noToken = await admin.request({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
    t.equal(noToken.statusCode, 403, `no CSRF token: POST ${url}`)
    const forged = await admin.post(url, { _csrf: 'forged' })
    t.equal(forged.statusCode, 403, `a forged token: POST ${url}`)
  }
  t.equal(await countOf(app.db('identity_providers')), 1, 'nothing was changed or deleted')
})

t.test('the developer portal\'s new routes: sign-in steps and the profile\'s two-step pages', async (t) => {
  const app = await makeApp(t, { PUBLIC_URL: PORTAL })
  await createAdmin(app)
  await createDeveloper(app)
  const idp = await startOidcProvider(t, PORTAL)
  const id = (await app.services.providers.createProvider({
    name: 'Corp', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, scopes: '', groupsClaim: '', groupMap: '', createAccounts: false, allowedDomains: '', enabled: true, localMfa: false
  }, { id: null, label: 'test', ip: null })).id
  const visitor = new Client(app)
  for (const url of ['/profile/mfa']) {
    t.equal((await visitor.get(url)).statusCode, 303, `signed out: GET ${url}`)
  }
  t.equal((await visitor.get('/signin/mfa')).headers.location, '/signin', 'no first step: back to the sign-in page')
  await visitor.get('/signin')
  for (const url of ['/profile/mfa', '/profile/mfa/recovery-codes', '/profile/mfa/disable']) {
    t.equal((await visitor.post(url, { code: '123456', password: 'x' })).statusCode, 303, `signed out: POST ${url}`)
  }
  const dev = await signedInClient(app, DEV)
  for (const [url, fields] of [['/profile/mfa', { code: '123456' }], ['/profile/mfa/recovery-codes', {}], ['/profile/mfa/disable', { code: '1', password: 'x' }], ['/signin/mfa', { code: '1' }], [`/signin/oidc/${id}`, {}]] as const) {
    const noToken = await dev.request({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() })
    t.equal(noToken.statusCode, 403, `no CSRF token: POST ${url}`)
  }
  const crossSite = await visitor.request({ method: 'POST', url: `/signin/oidc/${id}`, headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' }, payload: `_csrf=${visitor.csrf ?? ''}` })
  t.equal(crossSite.statusCode, 403, 'a sign-in cannot be started from another site')
  t.equal((await visitor.post('/signin/oidc/999')).statusCode, 404, 'an unknown provider')
  t.equal((await visitor.post('/signin/oidc/abc')).statusCode, 404)
  t.equal((await visitor.get('/signin/oidc/1/callback?' + 'x='.repeat(10) + '&a=' + 'b'.repeat(5000))).statusCode, 400, 'an oversized callback query is a 400')
})
