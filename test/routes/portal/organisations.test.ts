// Organisations in the developer portal: create, invite (an existing account and a new address),
// join once, roles, the last-owner rule (also under simultaneous requests), leaving, IDOR.
import t, { type Test } from 'tap'
import { ADMIN, Client, DEV, countOf, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { linkIn, startSmtp } from '../../smtp'
import { TestClock } from '../../clock'

const SAM = { firstName: 'Sam', lastName: 'Second', email: 'sam@example.com', password: 'sam has a long password too' }
const EVE = { firstName: 'Eve', lastName: 'Outsider', email: 'eve@example.com', password: 'eve is not in the team at all' }

async function setup (t: Test) {
  const clock = new TestClock()
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url, RATE_LIMIT_PER_MINUTE: '10000' }, { clock })
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const sam = await createDeveloper(app, SAM)
  const eve = await createDeveloper(app, EVE)
  const owner = await signedInClient(app, DEV)
  await owner.get('/organisations')
  const created = await owner.post('/organisations', { name: 'Acme Team', description: 'We build rockets.' })
  t.equal(created.statusCode, 303, created.body.slice(0, 300))
  const orgId = Number(/\/organisations\/(\d+)$/.exec(String(created.headers.location))?.[1])
  return { app, smtp, clock, dev, sam, eve, owner, orgId }
}


/** Invites an existing account and returns the path of the link in its email. */
async function inviteExisting (owner: Client, smtp: Awaited<ReturnType<typeof startSmtp>>, orgId: number, email: string): Promise<string> {
  const subject = /invites you to join/
  const before = smtp.messages.filter((m) => subject.test(m.subject ?? '')).length
  await owner.get(`/organisations/${orgId}`)
  const res = await owner.post(`/organisations/${orgId}/invitations`, { email })
  if (res.statusCode !== 303) throw new Error(`invite: ${res.statusCode}`)
  const mail = (await smtp.waitForSubject(subject, before + 1))[before]
  return new URL(linkIn(mail, 'organisations/join')).pathname
}

t.test('create (owner), invite an existing account, join once; non-members get 404 for every id', async (t) => {
  const { app, smtp, sam, eve, owner, orgId } = await setup(t)
  const page = await owner.get(`/organisations/${orgId}`)
  t.equal(page.statusCode, 200)
  t.match(page.body, /Acme Team/)
  t.match(page.body, /You are an owner/)
  t.match((await owner.get('/organisations')).body, /Acme Team/)
  t.ok(await app.db('audit_events').where({ action: 'organisation.created', target_id: orgId }).first())

  const link = await inviteExisting(owner, smtp, orgId, SAM.email)
  const [mail] = await smtp.waitForSubject(/invites you to join/)
  t.match(mail.subject ?? '', /Dev Eloper invites you to join Acme Team/)
  t.match(JSON.stringify(mail.to), /sam@example\.com/)
  const samClient = await signedInClient(app, SAM)
  t.equal((await samClient.get(`/organisations/${orgId}`)).statusCode, 404, 'not a member before joining')
  const joinPage = await samClient.get(link)
  t.match(joinPage.body, /Join Acme Team/)
  t.equal((await samClient.post(link)).statusCode, 303)
  t.equal((await samClient.get(`/organisations/${orgId}`)).statusCode, 200, 'a member now')
  t.equal((await samClient.post(link)).statusCode, 404, 'the link works once')
  t.ok(await app.db('audit_events').where({ action: 'organisation.member-joined', target_id: orgId }).first())

  // Someone else's link: only the invited account may use it.
  const eveClient = await signedInClient(app, EVE)
  const forEve = await inviteExisting(owner, smtp, orgId, EVE.email)
  const stolen = await samClient.post(forEve)
  t.equal(stolen.statusCode, 403)
  t.equal(await countOf(app.db('organisation_members').where({ organisation_id: orgId, developer_id: sam.id })), 1)
  await app.db('organisation_invitations').where({ developer_id: eve.id }).update({ ended_at: new Date().toISOString() })

  // IDOR: a developer who is not a member gets 404 for the page and every action.
  for (const [method, url, fields] of [
    ['GET', `/organisations/${orgId}`, {}], ['GET', `/organisations/${orgId}/leave`, {}], ['GET', `/organisations/${orgId}/members/${sam.id}/remove`, {}],
    ['POST', `/organisations/${orgId}`, { name: 'Mine now', description: '' }], ['POST', `/organisations/${orgId}/invitations`, { email: 'x@example.com' }],
    ['POST', `/organisations/${orgId}/members/${sam.id}/remove`, {}], ['POST', `/organisations/${orgId}/members/${sam.id}/role`, { role: 'owner' }], ['POST', `/organisations/${orgId}/leave`, {}]
  ] as const) {
    await eveClient.get('/organisations')
    const res = method === 'GET' ? await eveClient.get(url) : await eveClient.post(url, fields)
    t.equal(res.statusCode, 404, `${method} ${url}`)
  }
  t.equal((await eveClient.get('/organisations/999999')).statusCode, 404)
  // A member is not an owner: inviting and removing are refused.
  await samClient.get(`/organisations/${orgId}`)
  t.equal((await samClient.post(`/organisations/${orgId}/invitations`, { email: 'y@example.com' })).statusCode, 403)
  t.equal((await samClient.post(`/organisations/${orgId}/members/${sam.id}/role`, { role: 'owner' })).statusCode, 403, 'a member cannot make themselves an owner')
})

t.test('a new address gets a Portico invitation and joins when it is accepted; links expire like Portico\'s own', async (t) => {
  const { app, smtp, clock, owner, orgId } = await setup(t)
  await owner.get(`/organisations/${orgId}`)
  t.equal((await owner.post(`/organisations/${orgId}/invitations`, { email: 'newbie@example.com' })).statusCode, 303)
  const [mail] = await smtp.waitForSubject(/invit/i)
  t.match(JSON.stringify(mail.to), /newbie@example\.com/, 'a Portico invitation to the new address')
  const link = new URL(linkIn(mail, 'invitations')).pathname
  const invitee = new Client(app)
  await invitee.get(link)
  const accepted = await invitee.post(link, { password: 'a brand new long password' })
  t.equal(accepted.statusCode, 303)
  const account = await app.db('developers').where('email_normalized', 'newbie@example.com').first()
  t.equal(await countOf(app.db('organisation_members').where({ organisation_id: orgId, developer_id: account.id })), 1, 'joined on acceptance')
  t.equal((await invitee.get(`/organisations/${orgId}`)).statusCode, 200)

  const late = await inviteExisting(owner, smtp, orgId, SAM.email)
  clock.advance(73 * 3_600_000)
  const sam = await signedInClient(app, SAM)
  const expired = await sam.get(late)
  t.equal(expired.statusCode, 410, 'expired after INVITATION_TTL_HOURS')
  t.equal((await sam.post(late)).statusCode, 410)
  t.equal((await owner.post(`/organisations/${orgId}/invitations`, { email: 'not an email' })).statusCode, 400, 'a bad address beside the field')
})

t.test('roles; the last owner can neither leave nor be demoted, also under 20 simultaneous attempts; leaving and removal take effect at once', async (t) => {
  const { app, smtp, dev, sam, owner, orgId } = await setup(t)
  const samClient = await signedInClient(app, SAM)
  await samClient.post(await inviteExisting(owner, smtp, orgId, SAM.email))
  await owner.get(`/organisations/${orgId}`)
  const leaveAlone = await owner.post(`/organisations/${orgId}/leave`)
  t.equal(leaveAlone.statusCode, 409)
  t.match(leaveAlone.body, /always has an owner/)
  t.equal((await owner.post(`/organisations/${orgId}/members/${dev.id}/role`, { role: 'member' })).statusCode, 409, 'the last owner keeps the role')
  t.equal((await owner.post(`/organisations/${orgId}/members/${sam.id}/role`, { role: 'owner' })).statusCode, 303)

  // Two owners, each demoting the other and leaving, 20 requests at once: one owner remains.
  await samClient.get(`/organisations/${orgId}`)
  const attempts = []
  for (let i = 0; i < 5; i++) {
    attempts.push(owner.post(`/organisations/${orgId}/members/${sam.id}/role`, { role: 'member' }), samClient.post(`/organisations/${orgId}/members/${dev.id}/role`, { role: 'member' }))
    attempts.push(owner.post(`/organisations/${orgId}/leave`), samClient.post(`/organisations/${orgId}/leave`))
  }
  const answers = await Promise.all(attempts)
  t.ok(answers.every((a) => a.statusCode < 500), `no 5xx: ${answers.map((a) => a.statusCode).join(' ')}`)
  const owners = await countOf(app.db('organisation_members').where({ organisation_id: orgId, role: 'owner' }))
  t.equal(owners, 1, 'exactly one owner is left')

  // Whoever is still a member; an owner removes a member, who loses the page on the very next request.
  const left = await app.db('organisation_members').where({ organisation_id: orgId }).select('developer_id', 'role')
  t.ok(left.length >= 1)
  const sole = left.find((m) => m.role === 'owner')
  const ownerClient = sole.developer_id === dev.id ? owner : samClient
  const other = sole.developer_id === dev.id ? sam : dev
  const otherClient = sole.developer_id === dev.id ? samClient : owner
  if (!left.some((m) => m.developer_id === other.id)) {
    await otherClient.post(await inviteExisting(ownerClient, smtp, orgId, other.email))
  }
  t.equal((await otherClient.get(`/organisations/${orgId}`)).statusCode, 200)
  t.match((await otherClient.get(`/organisations/${orgId}/leave`)).body, /Leave Acme Team\?/, 'leaving asks first')
  const confirm = await ownerClient.get(`/organisations/${orgId}/members/${other.id}/remove`)
  t.match(confirm.body, new RegExp(`Remove ${other.email.replace('.', '\\.')} from Acme Team\\?`), 'removing asks first')
  t.equal((await ownerClient.post(`/organisations/${orgId}/members/${other.id}/remove`)).statusCode, 303)
  t.equal((await otherClient.get(`/organisations/${orgId}`)).statusCode, 404, 'removed: the page is gone at once')
  t.ok(await app.db('audit_events').where({ action: 'organisation.member-removed', target_id: orgId }).first())
})

t.test('developersCreateOrganisations off: only administrators create them', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await createDeveloper(app)
  const admin = await signedInClient(app, ADMIN)
  await admin.get('/admin/settings')
  t.equal((await admin.post('/admin/settings', { orgName: 'Portico', termsOfUse: '', signupEnabled: 'on', organisationFields: '1' })).statusCode, 303)
  t.equal((await app.services.settings.getSettings()).developersCreateOrganisations, false)
  const dev = await signedInClient(app, DEV)
  const page = await dev.get('/organisations')
  t.notMatch(page.body, /Create an organisation/)
  t.equal((await dev.post('/organisations', { name: 'Sneaky', description: '' })).statusCode, 403)
  await admin.get('/organisations')
  t.equal((await admin.post('/organisations', { name: 'By the admin', description: '' })).statusCode, 303, 'administrators always may')
  t.equal(await countOf(app.db('organisations')), 1)
})

t.test('every organisation route: signed out to /signin, no POST without its CSRF token', async (t) => {
  const { app, sam, owner, orgId } = await setup(t)
  const visitor = new Client(app)
  for (const url of ['/organisations', `/organisations/${orgId}`, `/organisations/${orgId}/leave`, `/organisations/${orgId}/members/${sam.id}/remove`, `/organisations/join/${'a'.repeat(43)}`]) {
    const res = await visitor.get(url)
    t.equal(res.statusCode, 303, `signed out: GET ${url}`)
    t.match(String(res.headers.location), /^\/signin\?next=/)
  }
  const posts = ['/organisations', `/organisations/${orgId}`, `/organisations/${orgId}/invitations`, `/organisations/${orgId}/members/${sam.id}/remove`, `/organisations/${orgId}/members/${sam.id}/role`, `/organisations/${orgId}/leave`, `/organisations/join/${'a'.repeat(43)}`]
  for (const url of posts) {
    await visitor.get('/signin')
    t.equal((await visitor.post(url, { name: 'x', description: '', email: 'x@example.com', role: 'owner' })).statusCode, 303, `signed out: POST ${url}`)
    const noToken = await owner.request({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=Hijacked&description=&email=x%40example.com&role=member' })
    t.equal(noToken.statusCode, 403, `no CSRF token: POST ${url}`)
  }
  t.equal(await countOf(app.db('organisations').where('name', 'Hijacked')), 0)
  t.equal(await countOf(app.db('organisation_members').where('organisation_id', orgId)), 1, 'nothing changed')
})
