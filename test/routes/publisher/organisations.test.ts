// The publisher's organisation pages: search, create with a first owner, subscribe on its behalf
// (its owners are mailed), block and activate (its keys follow), remove a member, delete behind a
// confirmation (its subscriptions cancelled), the subscriptions list filtered by organisation.
import t from 'tap'
import { ADMIN, DEV, countOf, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { startSmtp } from '../../smtp'
import { SYSTEM, startBackend } from '../../fixtures/gateway'
import { productFor } from '../../fixtures/catalog'

t.test('administrators manage organisations', async (t) => {
  const smtp = await startSmtp(t)
  const backend = await startBackend(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url })
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const api = await app.services.apis.createApi({ name: 'Books', path: 'books', serviceUrl: `${backend.url}/v1`, description: '', openapi: '' }, SYSTEM)
  const product = await productFor(app, SYSTEM, { name: 'Books plan' }, [api.id])
  const admin = await signedInClient(app, ADMIN)

  t.match((await admin.get('/admin/organisations')).body, /No organisations yet/)
  await admin.get('/admin/organisations/new')
  const bad = await admin.post('/admin/organisations', { name: '', description: '', ownerEmail: 'nobody@example.com' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /There is no active account with this email/)
  const created = await admin.post('/admin/organisations', { name: 'Acme', description: 'Rockets', ownerEmail: DEV.email })
  t.equal(created.statusCode, 303)
  const id = Number(/(\d+)$/.exec(String(created.headers.location))?.[1])
  t.equal((await admin.post('/admin/organisations', { name: 'ACME', description: '', ownerEmail: '' })).statusCode, 409, 'names are unique in any case')
  await app.services.organisations.createByAdmin({ name: 'Other team', description: '' }, '', SYSTEM)
  const search = await admin.get('/admin/organisations?q=acm')
  t.match(search.body, /Acme/)
  t.notMatch(search.body, /Other team/)

  const page = await admin.get(`/admin/organisations/${id}`)
  t.match(page.body, /dev@example\.com/)
  t.match(page.body, /Owner/)
  const subscribed = await admin.post(`/admin/organisations/${id}/subscriptions`, { productId: String(product.id), displayName: 'Team app' })
  t.equal(subscribed.statusCode, 303)
  const [mail] = await smtp.waitForSubject(/approved|active|subscription/i)
  t.match(JSON.stringify(mail.to), /dev@example\.com/, 'the organisation\'s owner is mailed')
  const subscription = await app.db('subscriptions').where('organisation_id', id).first()
  t.equal(subscription.state, 'active')
  const details = await admin.get(`/admin/subscriptions/${subscription.id}`)
  t.match(details.body, new RegExp(`<dt>Organisation</dt><dd><a href="/admin/organisations/${id}">Acme</a>`), 'its page names the organisation')
  const filtered = await admin.get(`/admin/subscriptions?organisation=${id}`)
  t.match(filtered.body, /Team app/)
  t.match(filtered.body, /1 subscription\b/)
  const none = await admin.get(`/admin/subscriptions?organisation=${id + 1}`)
  t.match(none.body, /No subscriptions match/)

  const [own] = (await app.services.subscriptions.listOwn(dev.id)).filter((s) => s.id === subscription.id)
  const call = async (): Promise<number> => (await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': own.keys.primary ?? '' } })).statusCode
  t.equal(await call(), 200)
  t.equal((await admin.post(`/admin/organisations/${id}/block`)).statusCode, 303)
  t.equal(await call(), 401, 'blocked: its keys stop on the next call')
  t.equal((await admin.post(`/admin/organisations/${id}/activate`)).statusCode, 303)
  t.equal(await call(), 200)

  // Analytics by organisation: its calls (the refused one included), nobody else's.
  await app.inject({ url: '/gateway/books/x', headers: { 'ocp-apim-subscription-key': 'f'.repeat(32) } })
  await app.services.gateway.flush()
  const today = new Date().toISOString().slice(0, 10)
  const theirs = await app.services.usage.report({ from: today, to: today, organisation: id })
  t.equal(theirs.total.calls, 3, 'its three calls')
  t.equal((await app.services.usage.report({ from: today, to: today })).total.calls, 4, 'four in all')
  const analytics = await admin.get(`/admin/analytics?organisation=${id}`)
  t.equal(analytics.statusCode, 200)
  t.match(analytics.body, new RegExp(`<option value="${id}" selected>Acme</option>`))

  // Roles from here too; the last owner keeps the role.
  const demoted = await admin.post(`/admin/organisations/${id}/members/${dev.id}/role`, { role: 'member' })
  t.equal(demoted.statusCode, 409)
  t.match(demoted.body, /always has an owner/)

  // Removing the last owner is refused here too.
  const removed = await admin.post(`/admin/organisations/${id}/members/${dev.id}/remove`)
  t.equal(removed.statusCode, 409)
  t.match(removed.body, /always has an owner/)

  const confirm = await admin.get(`/admin/organisations/${id}/delete`)
  t.match(confirm.body, /Delete Acme\?/)
  t.equal((await admin.post(`/admin/organisations/${id}/delete`)).statusCode, 303)
  const cancelled = await app.db('subscriptions').where('id', subscription.id).first()
  t.equal(cancelled.state, 'cancelled')
  t.ok(cancelled.ended_at, 'with the time it ended')
  t.equal(await call(), 401)
  t.equal(await countOf(app.db('organisations').where('id', id)), 0)
  for (const action of ['organisation.created', 'organisation.blocked', 'organisation.activated', 'organisation.deleted']) {
    t.ok(await app.db('audit_events').where({ action }).first(), `${action} audited`)
  }

  // Developers: 403 on every page and action of /admin/organisations.
  const other = (await app.services.organisations.names())[0].id
  const developer = await signedInClient(app, DEV)
  for (const url of ['/admin/organisations', '/admin/organisations/new', `/admin/organisations/${other}`, `/admin/organisations/${other}/delete`]) {
    t.equal((await developer.get(url)).statusCode, 403, `GET ${url}`)
  }
  await developer.get('/organisations')
  for (const url of ['/admin/organisations', `/admin/organisations/${other}`, `/admin/organisations/${other}/block`, `/admin/organisations/${other}/activate`, `/admin/organisations/${other}/delete`, `/admin/organisations/${other}/subscriptions`, `/admin/organisations/${other}/members/${dev.id}/remove`, `/admin/organisations/${other}/members/${dev.id}/role`]) {
    t.equal((await developer.post(url, {})).statusCode, 403, `POST ${url}`)
    const noToken = await admin.request({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
    t.equal(noToken.statusCode, 403, `no CSRF token: POST ${url}`)
  }
  t.equal(await countOf(app.db('organisations').where('id', other)), 1)
})
