import t from 'tap'
import { createHash } from 'node:crypto'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { validate } from '@readme/openapi-parser'
import { ADMIN, DEV, Client, countOf, createAdmin, createDeveloper, makeApp, signedInClient } from '../helpers'
import { productFor } from '../fixtures/catalog'
import { TestClock } from '../clock'
import type { Actor } from '../../src/services/kernel/events'

interface World {
  app: FastifyInstance
  admin: Client
  token: string
  actor: Actor
}

/** An app with an administrator signed in on the page and holding a fresh token. */
async function world (t: { teardown: (fn: () => unknown) => void }, options: { clock?: TestClock, perMinute?: number } = {}): Promise<World> {
  const app = await makeApp(t, {}, { clock: options.clock, apiCallsPerMinute: options.perMinute })
  const account = await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  const token = await createToken(admin, 'automation')
  return { app, admin, token, actor: { id: account.id, label: account.email, ip: '127.0.0.1' } }
}

async function createToken (admin: Client, name: string, expiresInDays = ''): Promise<string> {
  await admin.get('/admin/api-tokens')
  const res = await admin.post('/admin/api-tokens', { name, expiresInDays })
  if (res.statusCode !== 200) throw new Error(`token not created: ${res.statusCode}`)
  const token = /<code>(ptk_[A-Za-z0-9_-]+)<\/code>/.exec(res.body)?.[1]
  if (token === undefined) throw new Error('token not shown')
  return token
}

async function call (app: FastifyInstance, token: string | null, method: InjectOptions['method'], url: string, payload?: object) {
  const res = await app.inject({ method, url, payload, headers: token === null ? {} : { authorization: `Bearer ${token}` } })
  return { status: res.statusCode, body: res.body === '' ? null : JSON.parse(res.body), headers: res.headers }
}

async function auditActions (app: FastifyInstance, targetLabel: string): Promise<string[]> {
  return await app.db('audit_events').where('target_label', targetLabel).orderBy('id').pluck('action')
}

async function templatesTo (app: FastifyInstance, email: string): Promise<string[]> {
  return await app.db('outbox_emails').where('to_address', email).orderBy('id').pluck('template')
}

t.test('tokens: created on the page and shown once, only the SHA-256 stored, listed with last use, revoked', async (t) => {
  const { app, admin, token } = await world(t)
  const row = await app.db('api_tokens').first()
  t.equal(row.token_hash, createHash('sha256').update(token).digest('hex'), 'only the digest is kept')
  t.notOk(JSON.stringify(row).includes(token.slice(4)), 'the token itself is nowhere in the row')
  t.match(row.expires_at, new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10), 'API_TOKEN_TTL_DAYS (90) by default')

  const list = await admin.get('/admin/api-tokens')
  t.notOk(list.body.includes(token), 'the list never shows the token again')
  t.match(list.body, /Never/, 'not used yet')
  t.equal((await call(app, token, 'GET', '/api/v1/users')).status, 200)
  t.match((await admin.get('/admin/api-tokens')).body, /automation/)
  t.ok((await app.db('api_tokens').first()).last_used_at, 'last use recorded')

  const bad = await admin.post('/admin/api-tokens', { name: ' ', expiresInDays: '0' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Enter the token name/)
  t.match(bad.body, /number of days from 1 to 3650/)

  const short = await createToken(admin, 'short', '7')
  t.match((await app.db('api_tokens').where('name', 'short').first()).expires_at, new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10))

  const id = (await app.db('api_tokens').where('name', 'automation').first()).id
  t.match((await admin.get(`/admin/api-tokens/${id}/revoke`)).body, /Revoke this token\?/)
  const revoked = await admin.post(`/admin/api-tokens/${id}/revoke`, {})
  t.equal(revoked.statusCode, 303)
  const after = await call(app, token, 'GET', '/api/v1/users')
  t.equal(after.status, 401, 'a revoked token stops on the next call')
  t.equal(after.headers['www-authenticate'], 'Bearer realm="portico"')
  t.equal((await call(app, short, 'GET', '/api/v1/users')).status, 200, 'other tokens go on')
  t.same(await app.db('audit_events').whereIn('action', ['api-token.created', 'api-token.revoked']).orderBy('id').pluck('action'), ['api-token.created', 'api-token.created', 'api-token.revoked'])
  t.equal((await admin.post(`/admin/api-tokens/${id}/revoke`, {})).statusCode, 409, 'revoking twice is refused')
})

t.test('a token expires, and stops when its administrator is blocked, deleted or leaves Administrators', async (t) => {
  const clock = new TestClock()
  const { app, token, actor } = await world(t, { clock })
  const second = await app.services.accounts.createAccount({ firstName: 'Bo', lastName: 'Boss', email: 'bo@example.com', password: 'another long passphrase here' }, [1], actor)
  const bo = await signedInClient(app, { email: 'bo@example.com', password: 'another long passphrase here' })
  const boToken = await createToken(bo, 'bo')

  t.equal((await call(app, boToken, 'GET', '/api/v1/groups')).status, 200)
  await app.services.groups.removeMember(1, second.id, actor)
  const demoted = await call(app, boToken, 'GET', '/api/v1/groups')
  t.equal(demoted.status, 403, 'left Administrators: 403 on the next call')
  t.match(demoted.body.message, /no longer an administrator/)
  await app.services.groups.addMemberById(1, second.id, actor)
  t.equal((await call(app, boToken, 'GET', '/api/v1/groups')).status, 200, 'back in Administrators')
  await app.services.accounts.blockAccount(second.id, actor)
  t.equal((await call(app, boToken, 'GET', '/api/v1/groups')).status, 401, 'blocked: 401')
  await app.services.accounts.activateAccount(second.id, actor)
  await app.services.accounts.deleteAccount(second.id, actor)
  t.equal((await call(app, boToken, 'GET', '/api/v1/groups')).status, 401, 'deleted: 401')

  clock.advance(91 * 86_400_000)
  t.equal((await call(app, token, 'GET', '/api/v1/groups')).status, 401, 'expired: 401')
})

t.test('401 without a valid token; no cookie, no CSRF, no session; JSON errors; rate limit per token', async (t) => {
  const { app, admin, token } = await world(t, { perMinute: 5 })
  for (const authorization of [undefined, '', 'Bearer', 'Basic YWJjOmRlZg==', 'Bearer ptk_unknown', `Bearer ${token}x`, `bearer  ${token.slice(0, -1)}`]) {
    const res = await app.inject({ url: '/api/v1/users', headers: authorization === undefined ? {} : { authorization } })
    t.equal(res.statusCode, 401, `${authorization ?? 'no header'}: 401`)
    const body = JSON.parse(res.body)
    t.same(Object.keys(body).sort(), ['error', 'message', 'statusCode'])
    t.equal(body.error, 'Unauthorized')
  }
  const sessions = await app.db('sessions').count({ n: '*' }).first()
  const res = await app.inject({ method: 'POST', url: '/api/v1/groups', payload: { name: 'Partners' }, headers: { authorization: `Bearer ${token}`, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } })
  t.equal(res.statusCode, 201, 'no CSRF token needed: a Bearer header is never sent by a browser on its own')
  t.notOk(res.headers['set-cookie'], 'no cookie')
  t.equal(res.headers['cache-control'], 'no-store')
  t.same(await app.db('sessions').count({ n: '*' }).first(), sessions, 'no session row')
  // The same session cookie does not open the API.
  const viaCookie = await admin.request({ method: 'GET', url: '/api/v1/users' })
  t.equal(viaCookie.statusCode, 401, 'a signed-in session is not a token')

  const other = await createToken(admin, 'other')
  let limited = null
  for (let i = 0; i < 6; i++) {
    const r = await call(app, token, 'GET', '/api/v1/products')
    if (r.status === 429) { limited = r; break }
  }
  t.ok(limited, 'past the limit: 429')
  t.equal(limited?.body.statusCode, 429)
  t.ok(Number(limited?.headers['retry-after']) > 0, 'Retry-After')
  t.equal((await call(app, other, 'GET', '/api/v1/products')).status, 200, 'another token has its own budget')

  // Guessing at tokens from one address: limited (30 failures a minute, RATE_LIMIT_PER_MINUTE), then 429 before any look-up.
  const tries: number[] = []
  for (let i = 0; i < 40; i++) tries.push((await app.inject({ url: '/api/v1/users', headers: { authorization: `Bearer ptk_guess${i}` }, remoteAddress: '203.0.113.9' })).statusCode)
  t.same(tries.slice(0, 30), Array(30).fill(401), 'the first 30 failures are 401')
  t.same(tries.slice(30), Array(10).fill(429), 'then 429')
  const blocked = await app.inject({ url: '/api/v1/users', headers: { authorization: `Bearer ${other}` }, remoteAddress: '203.0.113.9' })
  t.equal(blocked.statusCode, 429, 'while limited, that address is refused whatever it sends')
  t.ok(Number(blocked.headers['retry-after']) > 0, 'with Retry-After')
  t.match(JSON.parse(blocked.body).message, /Too many failed authentications from this address/)
  t.equal((await app.inject({ url: '/api/v1/users', headers: { authorization: 'Bearer ptk_guess' }, remoteAddress: '198.51.100.1' })).statusCode, 401, 'another address is not')

  const unknown = await call(app, token, 'GET', '/api/v1/nothing-here')
  t.ok([404, 429].includes(unknown.status))
  const notFound = await call(app, other, 'GET', '/api/v1/nothing-here')
  t.equal(notFound.status, 404)
  t.equal(notFound.body.error, 'Not Found')
})

t.test('the OpenAPI document is generated from the routes and passes a real validator', async (t) => {
  const { app, admin } = await world(t)
  const res = await app.inject({ url: '/api/v1/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = JSON.parse(res.body)
  t.equal(doc.openapi, '3.1.0')
  const result = await validate(structuredClone(doc))
  t.ok(result.valid, `valid: ${JSON.stringify('errors' in result ? result.errors : [])}`)
  const paths = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort()
  for (const expected of [
    'GET /api/v1/users', 'POST /api/v1/users', 'GET /api/v1/users/{id}', 'DELETE /api/v1/users/{id}', 'POST /api/v1/users/{id}/block', 'POST /api/v1/users/{id}/activate',
    'GET /api/v1/invitations', 'POST /api/v1/invitations', 'POST /api/v1/invitations/{id}/resend', 'DELETE /api/v1/invitations/{id}',
    'GET /api/v1/groups', 'POST /api/v1/groups', 'DELETE /api/v1/groups/{id}', 'GET /api/v1/groups/{id}/members', 'POST /api/v1/groups/{id}/members', 'DELETE /api/v1/groups/{id}/members/{userId}',
    'GET /api/v1/products', 'GET /api/v1/products/{id}', 'GET /api/v1/subscriptions', 'POST /api/v1/subscriptions',
    'POST /api/v1/subscriptions/{id}/approve', 'POST /api/v1/subscriptions/{id}/reject', 'POST /api/v1/subscriptions/{id}/suspend', 'POST /api/v1/subscriptions/{id}/activate',
    'POST /api/v1/subscriptions/{id}/cancel', 'POST /api/v1/subscriptions/{id}/regenerate'
  ]) t.ok(paths.includes(expected), expected)

  // For administrators, the developer portal draws it like any imported API.
  const catalog = await admin.get('/apis')
  t.match(catalog.body, /href="\/apis\/management"/)
  const reference = await admin.get('/apis/management')
  t.equal(reference.statusCode, 200)
  t.match(reference.body, /Portico management API/)
  t.match(reference.body, /Authorization: Bearer &lt;token&gt;/)
  const found = await admin.get('/apis/management/search?q=users')
  t.match(found.body, /<code class="break">\/api\/v1\/users<\/code>/)
  const key = /href="\/apis\/management\/operations\/([^"]+)"/.exec(found.body)?.[1] ?? ''
  const operation = await admin.get(`/apis/management/operations/${key}`)
  t.equal(operation.statusCode, 200)
  t.match(operation.body, /curl -X \w+ &#39;http:\/\/localhost:3000\/api\/v1\/users[^&]*&#39; \\\n {2}-H &#39;Authorization: Bearer YOUR_API_TOKEN&#39;/)
  const dev = await createDeveloper(app, DEV)
  t.ok(dev)
  const developer = await signedInClient(app, DEV)
  t.equal((await developer.get('/apis/management')).statusCode, 404, 'not for developers')
  t.notMatch((await developer.get('/apis')).body, /management/)
  t.equal((await new Client(app).get('/apis/management')).statusCode, 404, 'nor for visitors')
})

t.test('users: list, get, create, block, activate, delete — the same audit entries and emails as the pages', async (t) => {
  const { app, admin, token } = await world(t)
  const partners = await app.services.groups.createGroup({ name: 'Partners', description: '' }, { id: null, label: 'test', ip: null })

  const created = await call(app, token, 'POST', '/api/v1/users', { email: 'api@example.com', firstName: 'Api', lastName: 'User', password: 'a long and quiet river bend', groups: [partners.id] })
  t.equal(created.status, 201)
  t.same(Object.keys(created.body).sort(), ['createdAt', 'email', 'firstName', 'groups', 'id', 'lastName', 'lastSignInAt', 'state'])
  t.same(created.body.groups.map((g: { name: string }) => g.name), ['Developers', 'Partners'])
  await admin.get('/admin/developers/new')
  const viaPage = await admin.post('/admin/developers', { email: 'page@example.com', firstName: 'Page', lastName: 'User', password: 'a long and quiet river bend' })
  t.equal(viaPage.statusCode, 303)
  t.same(await auditActions(app, 'api@example.com'), await auditActions(app, 'page@example.com'), 'same audit entry')
  t.same(await templatesTo(app, 'api@example.com'), ['welcome'])
  t.same(await templatesTo(app, 'api@example.com'), await templatesTo(app, 'page@example.com'), 'same email')

  const invalid = await call(app, token, 'POST', '/api/v1/users', { email: 'nope', firstName: '', lastName: 'X', password: 'short' })
  t.equal(invalid.status, 400)
  t.ok(invalid.body.fields.email && invalid.body.fields.firstName && invalid.body.fields.password, 'a message per field')
  const taken = await call(app, token, 'POST', '/api/v1/users', { email: 'API@example.com', firstName: 'A', lastName: 'B', password: 'a long and quiet river bend' })
  t.equal(taken.status, 409)
  t.ok(taken.body.fields.email)
  t.equal((await call(app, token, 'POST', '/api/v1/users', { email: 'x@example.com', firstName: 'A', lastName: 'B', password: 'a long and quiet river bend', admin: true })).status, 400, 'unknown fields refused')
  const guestsId = (await app.db('groups').where('system_key', 'guests').first('id')).id as number
  const newcomer = { email: 'groups@example.com', firstName: 'G', lastName: 'Roups', password: 'a long and quiet river bend' }
  const guests = await call(app, token, 'POST', '/api/v1/users', { ...newcomer, groups: [guestsId] })
  t.equal(guests.status, 400, 'Guests is refused, not dropped')
  t.same(guests.body.fields, { groups: 'Guests stands for signed-out visitors and takes no members.' })
  const unknownGroups = await call(app, token, 'POST', '/api/v1/users', { ...newcomer, groups: [partners.id, 99999, 99998] })
  t.equal(unknownGroups.status, 400, 'unknown group ids are refused, not dropped')
  t.same(unknownGroups.body.fields, { groups: 'There is no group with the id 99999, 99998.' })
  t.equal(await countOf(app.db('developers').where('email', newcomer.email)), 0, 'and no account was made')

  const list = await call(app, token, 'GET', '/api/v1/users?q=user&sort=email')
  t.same(list.body.items.map((u: { email: string }) => u.email), ['api@example.com', 'page@example.com'])
  t.same([list.body.total, list.body.page, list.body.pageSize], [2, 1, 25])
  t.equal((await call(app, token, 'GET', `/api/v1/users?group=${partners.id}`)).body.total, 1)
  t.equal((await call(app, token, 'GET', '/api/v1/users?state=blocked')).body.total, 0)
  t.equal((await call(app, token, 'GET', '/api/v1/users?state=pending')).status, 400)
  t.equal((await call(app, token, 'GET', '/api/v1/users?page=0')).status, 400)

  const id = created.body.id
  const pageId = (await app.db('developers').where('email', 'page@example.com').first()).id
  t.equal((await call(app, token, 'GET', `/api/v1/users/${id}`)).body.email, 'api@example.com')
  t.equal((await call(app, token, 'GET', '/api/v1/users/99999')).status, 404)
  t.equal((await call(app, token, 'GET', '/api/v1/users/abc')).status, 400)

  const blocked = await call(app, token, 'POST', `/api/v1/users/${id}/block`)
  t.equal(blocked.body.state, 'blocked')
  t.equal((await admin.post(`/admin/developers/${pageId}/block`, {})).statusCode, 303)
  t.equal((await call(app, token, 'POST', `/api/v1/users/${id}/activate`)).body.state, 'active')
  t.equal((await admin.post(`/admin/developers/${pageId}/activate`, {})).statusCode, 303)
  t.equal((await call(app, token, 'DELETE', `/api/v1/users/${id}`)).status, 204)
  t.equal((await admin.post(`/admin/developers/${pageId}/delete`, {})).statusCode, 303)
  t.same(await auditActions(app, 'api@example.com'), ['developer.created', 'developer.blocked', 'developer.activated', 'developer.deleted'])
  t.same(await auditActions(app, 'api@example.com'), await auditActions(app, 'page@example.com'))
  t.same(await templatesTo(app, 'api@example.com'), ['welcome', 'farewell'])
  t.same(await templatesTo(app, 'api@example.com'), await templatesTo(app, 'page@example.com'))
  const actors = await app.db('audit_events').where('target_label', 'api@example.com').distinct('actor_label').pluck('actor_label')
  t.same(actors, [ADMIN.email], 'the token acts as its administrator')

  const self = (await app.db('developers').where('email', ADMIN.email).first()).id
  const refused = await call(app, token, 'POST', `/api/v1/users/${self}/block`)
  t.equal(refused.status, 409, 'the same rules: one cannot block oneself')
  t.match(refused.body.message, /your own account/)
})

t.test('invitations: invite, resend, list, revoke — as on the pages', async (t) => {
  const { app, admin, token } = await world(t)
  const invited = await call(app, token, 'POST', '/api/v1/invitations', { email: 'inv@example.com', firstName: 'In', lastName: 'Vited' })
  t.equal(invited.status, 201)
  t.equal(invited.body.resent, false)
  await admin.get('/admin/invitations/new')
  t.equal((await admin.post('/admin/invitations', { email: 'pageinv@example.com', firstName: 'Page', lastName: 'Invite' })).statusCode, 303)
  t.same(await templatesTo(app, 'inv@example.com'), ['invitation'])
  t.same(await auditActions(app, 'inv@example.com'), await auditActions(app, 'pageinv@example.com'))

  const again = await call(app, token, 'POST', '/api/v1/invitations', { email: 'INV@example.com', firstName: 'In', lastName: 'Vited' })
  t.equal(again.status, 200, 'a pending address gets a new link')
  t.equal(again.body.resent, true)
  t.equal((await call(app, token, 'POST', '/api/v1/invitations', { email: ADMIN.email, firstName: 'A', lastName: 'B' })).status, 409)
  const bad = await call(app, token, 'POST', '/api/v1/invitations', { email: 'bad', firstName: 'A', lastName: 'B' })
  t.equal(bad.status, 400)
  t.ok(bad.body.fields.email)

  const list = await call(app, token, 'GET', '/api/v1/invitations')
  t.same(list.body.items.map((i: { email: string }) => i.email).sort(), ['inv@example.com', 'pageinv@example.com'])
  t.equal((await call(app, token, 'GET', '/api/v1/invitations?x=1')).status, 400)
  const resent = await call(app, token, 'POST', `/api/v1/invitations/${invited.body.id}/resend`)
  t.equal(resent.status, 200)
  t.same(await templatesTo(app, 'inv@example.com'), ['invitation', 'invitation', 'invitation'])
  t.equal((await call(app, token, 'DELETE', `/api/v1/invitations/${invited.body.id}`)).status, 204)
  t.equal((await call(app, token, 'DELETE', `/api/v1/invitations/${invited.body.id}`)).status, 404)
  t.same(await auditActions(app, 'inv@example.com'), ['developer.invited', 'invitation.resent', 'invitation.resent', 'invitation.revoked'])
})

t.test('groups and members', async (t) => {
  const { app, token } = await world(t)
  const dev = await createDeveloper(app)
  const created = await call(app, token, 'POST', '/api/v1/groups', { name: 'Partners', description: 'Our partners' })
  t.equal(created.status, 201)
  t.equal(created.body.system, false)
  t.equal((await call(app, token, 'POST', '/api/v1/groups', { name: 'partners' })).status, 409)
  t.equal((await call(app, token, 'POST', '/api/v1/groups', { name: '' })).status, 400)
  const list = await call(app, token, 'GET', '/api/v1/groups')
  t.same(list.body.items.map((g: { name: string }) => g.name), ['Administrators', 'Developers', 'Guests', 'Partners'])

  const gid = created.body.id
  const added = await call(app, token, 'POST', `/api/v1/groups/${gid}/members`, { email: DEV.email })
  t.same([added.status, added.body], [201, { result: 'added' }])
  const twice = await call(app, token, 'POST', `/api/v1/groups/${gid}/members`, { userId: dev.id })
  t.same([twice.status, twice.body], [200, { result: 'already a member' }])
  t.equal((await call(app, token, 'POST', `/api/v1/groups/${gid}/members`, { email: 'nobody@example.com' })).status, 404)
  t.equal((await call(app, token, 'POST', `/api/v1/groups/${gid}/members`, { userId: 99999 })).status, 404)
  t.equal((await call(app, token, 'POST', `/api/v1/groups/${gid}/members`, { email: 'not-an-email' })).status, 400)
  t.equal((await call(app, token, 'POST', `/api/v1/groups/${gid}/members`, {})).status, 400, 'email or userId')
  t.equal((await call(app, token, 'POST', '/api/v1/groups/99999/members', { email: DEV.email })).status, 404)
  const members = await call(app, token, 'GET', `/api/v1/groups/${gid}/members`)
  t.same(members.body.items.map((u: { email: string }) => u.email), [DEV.email])
  t.equal((await call(app, token, 'DELETE', `/api/v1/groups/${gid}/members/${dev.id}`)).status, 204)
  t.equal((await call(app, token, 'GET', `/api/v1/groups/${gid}/members`)).body.total, 0)
  const admins = await call(app, token, 'DELETE', `/api/v1/groups/1/members/${(await app.db('developers').where('email', ADMIN.email).first()).id}`)
  t.equal(admins.status, 409, 'never the last administrator')
  t.equal((await call(app, token, 'DELETE', '/api/v1/groups/1')).status, 409, 'system groups stay')
  t.equal((await call(app, token, 'DELETE', `/api/v1/groups/${gid}`)).status, 204)
  t.same(await app.db('audit_events').where('target_type', 'group').orderBy('id').pluck('action'), ['group.created', 'group.member-added', 'group.member-removed', 'group.deleted'])
})

t.test('products and subscriptions: list, create for a user, approve, reject, suspend, activate, cancel, regenerate', async (t) => {
  const { app, admin, token, actor } = await world(t)
  const dev = await createDeveloper(app)
  const open = await productFor(app, actor, { name: 'Open' })
  const gated = await productFor(app, actor, { name: 'Gated', approvalRequired: true })
  const products = await call(app, token, 'GET', '/api/v1/products')
  t.same(products.body.items.map((p: { name: string }) => p.name).sort(), ['Gated', 'Open', 'Starter', 'Unlimited'])
  const one = await call(app, token, 'GET', `/api/v1/products/${open.id}`)
  t.equal(one.body.name, 'Open')
  t.same(one.body.groups.map((g: { name: string }) => g.name), ['Administrators', 'Developers'].filter((n) => one.body.groups.some((g: { name: string }) => g.name === n)))
  t.equal((await call(app, token, 'GET', '/api/v1/products/99999')).status, 404)

  const created = await call(app, token, 'POST', '/api/v1/subscriptions', { userId: dev.id, productId: open.id, displayName: 'Via API' })
  t.equal(created.status, 201)
  t.equal(created.body.state, 'active')
  t.equal(created.body.userEmail, DEV.email)
  await admin.get(`/admin/developers/${dev.id}`)
  t.equal((await admin.post(`/admin/developers/${dev.id}/subscriptions`, { productId: String(open.id), displayName: 'Via page' })).statusCode, 303)
  const audits = await app.db('audit_events').where('action', 'subscription.created').pluck('details')
  t.same(audits.map((d: string) => JSON.parse(d)), [{ onBehalf: true }, { onBehalf: true }], 'the same audit entry as the page')
  t.same(await templatesTo(app, DEV.email), ['welcome', 'subscription-approved', 'subscription-approved'])
  t.equal((await call(app, token, 'POST', '/api/v1/subscriptions', { userId: dev.id, productId: open.id, displayName: '' })).status, 400)
  t.equal((await call(app, token, 'POST', '/api/v1/subscriptions', { userId: 99999, productId: open.id, displayName: 'x' })).status, 404)

  const sid = created.body.id
  const suspended = await call(app, token, 'POST', `/api/v1/subscriptions/${sid}/suspend`)
  t.equal(suspended.body.state, 'suspended')
  t.equal((await call(app, token, 'POST', `/api/v1/subscriptions/${sid}/suspend`)).status, 409, 'state rules as on the page')
  t.equal((await call(app, token, 'POST', `/api/v1/subscriptions/${sid}/activate`)).body.state, 'active')
  const before = (await app.services.subscriptions.listOwn(dev.id)).find((s) => s.id === sid)?.keys.secondary
  const regenerated = await call(app, token, 'POST', `/api/v1/subscriptions/${sid}/regenerate`, { key: 'secondary' })
  t.equal(regenerated.status, 200)
  t.equal(regenerated.body.key.slot, 'secondary')
  t.not(regenerated.body.key.value, before)
  t.equal((await app.services.subscriptions.listOwn(dev.id)).find((s) => s.id === sid)?.keys.secondary, regenerated.body.key.value, 'its owner sees the new key')
  t.equal((await call(app, token, 'POST', `/api/v1/subscriptions/${sid}/regenerate`, { key: 'third' })).status, 400)
  t.equal((await call(app, token, 'POST', `/api/v1/subscriptions/${sid}/cancel`)).body.state, 'cancelled')

  const request = await app.services.subscriptions.subscribe({ ...dev, isAdmin: false }, gated.id, { displayName: 'Please', acceptTerms: true }, null)
  const noReason = await call(app, token, 'POST', `/api/v1/subscriptions/${request.id}/reject`, {})
  t.equal(noReason.status, 400)
  t.ok(noReason.body.fields.reason)
  const rejected = await call(app, token, 'POST', `/api/v1/subscriptions/${request.id}/reject`, { reason: 'Not yet' })
  t.equal(rejected.body.state, 'rejected')
  t.equal(rejected.body.stateReason, 'Not yet')
  t.same((await templatesTo(app, DEV.email)).slice(-1), ['subscription-declined'])
  const second = await app.services.subscriptions.subscribe({ ...dev, isAdmin: false }, gated.id, { displayName: 'Again', acceptTerms: true }, null)
  t.equal((await call(app, token, 'POST', `/api/v1/subscriptions/${second.id}/approve`)).body.state, 'active')

  const list = await call(app, token, 'GET', `/api/v1/subscriptions?state=active&product=${gated.id}`)
  t.same(list.body.items.map((s: { displayName: string }) => s.displayName), ['Again'])
  t.equal((await call(app, token, 'GET', '/api/v1/subscriptions?user=eloper')).body.total, 4)
  t.equal((await call(app, token, 'GET', '/api/v1/subscriptions?state=nope')).status, 400)
  t.same(await app.db('audit_events').where('target_type', 'subscription').whereNot('action', 'subscription.created').orderBy('id').pluck('action'),
    ['subscription.suspended', 'subscription.activated', 'subscription.key-regenerated', 'subscription.cancelled', 'subscription.rejected', 'subscription.approved'])
})

t.test('every route: 401 without a token, 403 for a token whose administrator left Administrators, 400 on bad input', async (t) => {
  const { app, admin, token, actor } = await world(t)
  const bo = await app.services.accounts.createAccount({ firstName: 'Bo', lastName: 'Boss', email: 'bo@example.com', password: 'another long passphrase here' }, [1], actor)
  const boClient = await signedInClient(app, { email: 'bo@example.com', password: 'another long passphrase here' })
  const boToken = await createToken(boClient, 'bo')
  await app.services.groups.removeMember(1, bo.id, actor)
  t.ok(admin)
  const doc = JSON.parse((await app.inject({ url: '/api/v1/openapi.json' })).body) as { paths: Record<string, Record<string, unknown>> }
  let routes = 0
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const method of Object.keys(operations)) {
      const url = path.replace(/\{[^}]+\}/g, '1')
      const m = method.toUpperCase() as InjectOptions['method']
      // Each from its own address: failed authentications are limited per address.
      t.equal((await app.inject({ method: m, url, remoteAddress: `10.0.${routes}.1` })).statusCode, 401, `${m} ${path} without a token`)
      t.equal((await call(app, boToken, m, url)).status, 403, `${m} ${path} for a former administrator`)
      const bad = await call(app, token, m, `${path.replace(/\{[^}]+\}/g, 'x')}?unexpected=1`)
      t.equal(bad.status, 400, `${m} ${path} with bad input`)
      t.ok(bad.body.fields, 'says which field')
      routes++
    }
  }
  t.equal(routes, 51)
})

t.test('organisations: create with an owner, list, get, update, members (the last owner kept), subscribe one, block and activate (its keys follow), delete', async (t) => {
  const { app, token, actor } = await world(t)
  const dev = await createDeveloper(app)
  const sam = await createDeveloper(app, { firstName: 'Sam', lastName: 'Second', email: 'sam@example.com', password: 'sam has a long password too' })
  const api = await app.services.apis.createApi({ name: 'Echo', path: 'echo', serviceUrl: 'http://127.0.0.1:9', description: '', openapi: '' }, actor)
  const product = await productFor(app, actor, { name: 'Team plan', subscriptionsLimit: '1' }, [api.id])

  const created = await call(app, token, 'POST', '/api/v1/organisations', { name: 'Acme', description: 'Rockets', ownerEmail: DEV.email })
  t.equal(created.status, 201)
  const id = created.body.id as number
  t.match(created.body, { name: 'Acme', state: 'active', memberCount: 1 })
  t.equal((await call(app, token, 'POST', '/api/v1/organisations', { name: 'acme' })).status, 409, 'names are unique')
  t.equal((await call(app, token, 'POST', '/api/v1/organisations', { name: 'X', extra: 1 })).status, 400)
  t.match((await call(app, token, 'GET', '/api/v1/organisations?q=ac')).body, { total: 1, items: [{ id }] })
  t.match((await call(app, token, 'GET', `/api/v1/organisations/${id}`)).body, { id, name: 'Acme' })
  t.match((await call(app, token, 'PUT', `/api/v1/organisations/${id}`, { name: 'Acme Ltd' })).body, { name: 'Acme Ltd', description: '' })
  t.equal((await call(app, token, 'GET', '/api/v1/organisations/999999')).status, 404)

  t.equal((await call(app, token, 'POST', `/api/v1/organisations/${id}/members`, { userId: sam.id })).status, 201)
  t.equal((await call(app, token, 'POST', `/api/v1/organisations/${id}/members`, { userId: sam.id })).status, 200, 'already a member')
  const members = await call(app, token, 'GET', `/api/v1/organisations/${id}/members`)
  t.same(members.body.items.map((m: { email: string, role: string }) => `${m.email} ${m.role}`), ['dev@example.com owner', 'sam@example.com member'])
  t.equal((await call(app, token, 'DELETE', `/api/v1/organisations/${id}/members/${dev.id}`)).status, 409, 'never the last owner')
  t.equal((await call(app, token, 'DELETE', `/api/v1/organisations/${id}/members/${sam.id}`)).status, 204)

  const subscribed = await call(app, token, 'POST', '/api/v1/subscriptions', { organisationId: id, productId: product.id, displayName: 'Team app' })
  t.equal(subscribed.status, 201)
  t.equal(subscribed.body.organisationId, id)
  t.equal((await call(app, token, 'POST', '/api/v1/subscriptions', { organisationId: id, userId: dev.id, productId: product.id, displayName: 'Both' })).status, 400, 'one owner or the other')
  t.equal((await call(app, token, 'POST', '/api/v1/subscriptions', { organisationId: id, productId: product.id, displayName: 'Second' })).status, 409, 'the limit counts per organisation')
  t.match((await call(app, token, 'GET', `/api/v1/subscriptions?organisation=${id}`)).body, { total: 1 })
  const [own] = (await app.services.subscriptions.listOwn(dev.id)).filter((s) => s.id === subscribed.body.id)
  const gatewayCall = async (): Promise<number> => (await app.inject({ url: '/gateway/echo/x', headers: { 'ocp-apim-subscription-key': own.keys.primary ?? '' } })).statusCode
  t.not(await gatewayCall(), 401, 'the key is accepted (the backend is down: 502)')
  t.match((await call(app, token, 'POST', `/api/v1/organisations/${id}/block`)).body, { state: 'blocked' })
  t.equal(await gatewayCall(), 401, 'blocked: its keys stop')
  t.match((await call(app, token, 'POST', `/api/v1/organisations/${id}/activate`)).body, { state: 'active' })
  t.not(await gatewayCall(), 401)
  t.equal((await call(app, token, 'DELETE', `/api/v1/organisations/${id}`)).status, 204)
  t.equal(await gatewayCall(), 401, 'deleted: its subscriptions are cancelled')
  const audited = await auditActions(app, 'Acme Ltd')
  for (const action of ['organisation.edited', 'organisation.member-joined', 'organisation.member-removed', 'organisation.blocked', 'organisation.activated', 'organisation.deleted']) t.ok(audited.includes(action), `${action} audited`)
})
