// PostgreSQL only (run by `npm run test:postgres`): a writer holding an uncommitted row with the same
// unique value makes the check-then-write of another transaction race; the loser must get a 409.
import t from 'tap'
import { DEV, createAdmin, createDeveloper, makeApp } from '../helpers'
import { insertAccount } from '../../src/services/accounts/account-store'
import { unsealBodies } from '../../src/services/mail/outbox'
import { DomainError } from '../../src/services/kernel/errors'

const actor = { id: null, label: 'test', ip: '127.0.0.1' }

async function settleAfterCommit<T> (hold: { commit: () => Promise<unknown> }, work: Promise<T>): Promise<PromiseSettledResult<T>> {
  const settled = Promise.allSettled([work])
  // Long enough for `work` to pass its own check and block on the unique index.
  await new Promise((resolve) => setTimeout(resolve, 300))
  await hold.commit()
  return (await settled)[0]
}

function statusOf (result: PromiseSettledResult<unknown>): number | string {
  if (result.status === 'fulfilled') return 'fulfilled'
  return result.reason instanceof DomainError ? result.reason.statusCode : String(result.reason)
}

t.test('email change confirmed while another account takes the address: 409, not 500', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const work = await app.services.profile.requestEmailChange(dev, 'wanted@example.com', DEV.password)
  await work()
  const row = await app.db('outbox_emails').where('template', 'email-change').first()
  const token = /profile\/email\/([A-Za-z0-9_-]{43})/.exec(unsealBodies(row, app.services.linkSealer)?.text ?? '')?.[1] ?? ''
  t.ok(token)

  const hold = await app.db.transaction()
  await insertAccount(hold, { firstName: 'Other', lastName: 'Person', email: 'wanted@example.com' }, 'active', null, new Date().toISOString())
  const result = await settleAfterCommit(hold, app.services.profile.confirmEmailChange(token, null))
  t.equal(statusOf(result), 409)
  t.equal((await app.db('developers').where('id', dev.id).first()).email, DEV.email, 'unchanged')
})

t.test('group renamed while another group takes the name: 409, not 500', async (t) => {
  const app = await makeApp(t)
  const group = await app.services.groups.createGroup({ name: 'Partners', description: '' }, actor)
  const hold = await app.db.transaction()
  await hold('groups').insert({ name: 'Vendors', name_normalized: 'vendors', description: '', created_at: new Date().toISOString() })
  const result = await settleAfterCommit(hold, app.services.groups.updateGroup(group.id, { name: 'Vendors', description: '' }, actor))
  t.equal(statusOf(result), 409)
  t.equal((await app.db('groups').where('id', group.id).first()).name, 'Partners', 'unchanged')
})
