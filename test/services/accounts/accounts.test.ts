import t from 'tap'
import { ADMIN, DEV, createAdmin, createDeveloper, makeApp } from '../../helpers'

const actor = { id: null, label: 'test', ip: '127.0.0.1' }

t.test('state changes: block and activate are idempotent; a pending account is left to its invitation', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const { accounts } = app.services
  t.equal((await accounts.blockAccount(dev.id, actor)).state, 'blocked')
  t.equal((await accounts.blockAccount(dev.id, actor)).state, 'blocked', 'blocking twice is fine')
  t.equal(await app.db('audit_events').where({ action: 'developer.blocked' }).count({ n: '*' }).first().then((r) => Number(r?.n)), 1, 'audited once')
  t.equal((await accounts.activateAccount(dev.id, actor)).state, 'active')
  t.equal((await accounts.activateAccount(dev.id, actor)).state, 'active', 'activating an active account is fine')

  await app.db('developers').where('id', dev.id).update({ state: 'pending' })
  await t.rejects(accounts.blockAccount(dev.id, actor), { statusCode: 409, message: /pending invitation/ })
  await t.rejects(accounts.activateAccount(dev.id, actor), { statusCode: 409, message: /pending invitation/ })
  await t.rejects(accounts.activateAccount(9999, actor), { statusCode: 404, message: /no developer with this id/ })
  await t.rejects(accounts.deleteAccount(9999, actor), { statusCode: 404, message: /no developer with this id/ })
})

t.test('createAccount refuses a taken email inside its transaction, whatever the case', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await t.rejects(createDeveloper(app, { ...DEV, email: ADMIN.email.toUpperCase() }), { statusCode: 409, message: /already exists/ })
  const results = await Promise.allSettled([createDeveloper(app), createDeveloper(app, { ...DEV, email: ` ${DEV.email.toUpperCase()} ` })])
  t.same(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'], 'two at once: exactly one wins')
  const loser = results.find((r) => r.status === 'rejected')
  t.match(loser?.status === 'rejected' ? loser.reason : null, { statusCode: 409, message: /already exists/ }, 'and the other is told why (on PostgreSQL too)')
})

t.test('two administrators blocking each other at once: one stays active', async (t) => {
  const app = await makeApp(t)
  const ada = await createAdmin(app)
  const adminGroup = await app.db('groups').where('system_key', 'administrators').first()
  const bo = await app.services.accounts.createAccount({ firstName: 'Bo', lastName: 'Two', email: 'bo@example.com', password: 'second administrator here' }, [adminGroup.id], actor)
  const results = await Promise.allSettled([app.services.accounts.blockAccount(ada.id, actor), app.services.accounts.blockAccount(bo.id, actor)])
  t.same(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'])
  const active = await app.db('developers').whereIn('id', [ada.id, bo.id]).where('state', 'active').count({ n: '*' }).first()
  t.equal(Number(active?.n), 1)
})
