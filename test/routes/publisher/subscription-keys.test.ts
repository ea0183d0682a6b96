import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, DEV, makeAppWithMail, signedInClient } from '../../helpers'
import { SYSTEM } from '../../fixtures/gateway'
import { productFor } from '../../fixtures/catalog'

async function keysOf (app: FastifyInstance, developerId: number, id: number): Promise<{ primary: string, secondary: string }> {
  const [own] = (await app.services.subscriptions.listOwn(developerId)).filter((s) => s.id === id)
  return { primary: own.keys.primary ?? '', secondary: own.keys.secondary ?? '' }
}

t.test('support: an administrator shows a subscription\'s keys (audited) and regenerates one for the owner (mailed)', async (t) => {
  const { app, smtp, dev } = await makeAppWithMail(t)
  const product = await productFor(app, SYSTEM, { name: 'Books' })
  const { id } = await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: 'Reading app' }, SYSTEM)
  await smtp.waitForSubject(/Your subscription to Books is active/)
  const before = await keysOf(app, dev.id, id)
  const admin = await signedInClient(app, ADMIN)

  const page = await admin.get(`/admin/subscriptions/${id}`)
  t.equal(page.statusCode, 200)
  t.notOk(page.body.includes(before.primary) || page.body.includes(before.secondary), 'no key on the page until asked for')
  t.match(page.body, new RegExp(`<form method="post" action="/admin/subscriptions/${id}/keys">`))
  t.equal(await app.db('audit_events').where({ action: 'subscription.keys-viewed' }).first(), undefined)

  const shown = await admin.post(`/admin/subscriptions/${id}/keys`)
  t.equal(shown.statusCode, 200)
  t.ok(shown.body.includes(before.primary) && shown.body.includes(before.secondary), 'both keys shown')
  t.equal(shown.headers['cache-control'], 'no-store', 'a page with keys is not cached')
  const viewed = await app.db('audit_events').where({ action: 'subscription.keys-viewed', target_id: id })
  t.equal(viewed.length, 1, 'the showing is audited')
  t.equal(viewed[0].actor_id, (await app.db('developers').where('email', ADMIN.email).first()).id)
  t.notOk(JSON.stringify(viewed).includes(before.primary), 'the audit entry holds no key')

  // Regenerate: only through the confirmation page.
  t.match(shown.body, new RegExp(`href="/admin/subscriptions/${id}/regenerate\\?key=secondary">Regenerate secondary key…`))
  const unconfirmed = await admin.post(`/admin/subscriptions/${id}/regenerate`, { key: 'secondary' })
  t.equal(unconfirmed.statusCode, 303)
  t.equal(unconfirmed.headers.location, `/admin/subscriptions/${id}/regenerate?key=secondary`)
  t.same(await keysOf(app, dev.id, id), before, 'nothing changed without the confirmation')
  const confirm = await admin.get(`/admin/subscriptions/${id}/regenerate?key=secondary`)
  t.equal(confirm.statusCode, 200)
  t.match(confirm.body, /Regenerate the secondary key of Reading app\?/)
  t.match(confirm.body, /Dev Eloper \(dev@example\.com\) is emailed that it changed/)
  const done = await admin.post(`/admin/subscriptions/${id}/regenerate`, { key: 'secondary', confirm: 'yes' })
  t.equal(done.statusCode, 303)
  t.equal(done.headers.location, `/admin/subscriptions/${id}`)
  const after = await keysOf(app, dev.id, id)
  t.equal(after.primary, before.primary, 'the other key stays')
  t.not(after.secondary, before.secondary)
  t.match((await admin.get(`/admin/subscriptions/${id}`)).body, /A new secondary key was made for Reading app; dev@example\.com was emailed/)
  t.ok(await app.db('audit_events').where({ action: 'subscription.key-regenerated', target_id: id }).first(), 'audited')
  const [mail] = await smtp.waitForSubject(/A new secondary key for Reading app/)
  t.match(mail.to, { text: /dev@example\.com/ })
  t.match(mail.text, /An administrator of Portico made a new secondary key for your subscription "Reading app" to the Books product/)
  t.notOk((mail.text ?? '').includes(after.secondary), 'the email carries no key')

  // The developer's own page has the new key.
  const developer = await signedInClient(app, DEV)
  t.ok((await developer.get('/subscriptions')).body.includes(after.secondary))
  // A developer cannot reach the administrator's routes.
  t.equal((await developer.post(`/admin/subscriptions/${id}/keys`)).statusCode, 403)
})

t.test('an ended subscription has no keys to show or renew; an unknown id is 404', async (t) => {
  const { app, dev } = await makeAppWithMail(t)
  const product = await productFor(app, SYSTEM, { name: 'Books' })
  const { id } = await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: 'Reading app' }, SYSTEM)
  await app.services.subscriptions.changeState(id, 'cancel', SYSTEM)
  const admin = await signedInClient(app, ADMIN)
  const page = await admin.get(`/admin/subscriptions/${id}`)
  t.notMatch(page.body, /Show keys/)
  const shown = await admin.post(`/admin/subscriptions/${id}/keys`)
  t.equal(shown.statusCode, 409)
  t.match(shown.body, /This subscription is cancelled: it has no keys that work/)
  t.equal((await admin.post(`/admin/subscriptions/${id}/regenerate`, { key: 'primary', confirm: 'yes' })).statusCode, 409)
  t.equal((await admin.post('/admin/subscriptions/99999/keys')).statusCode, 404)
  t.equal((await admin.get('/admin/subscriptions/99999/regenerate?key=primary')).statusCode, 404)
})
