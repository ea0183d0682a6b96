// PostgreSQL only (run by `npm run test:postgres`): SQLite runs one transaction at a time, so this
// interleaving cannot happen there.
import t from 'tap'
import { createAdmin, makeApp } from '../helpers'

const actor = { id: null, label: 'test', ip: '127.0.0.1' }

t.test('two administrators blocking each other while their rows are busy: one stays active', async (t) => {
  const app = await makeApp(t)
  const ada = await createAdmin(app)
  const adminGroup = await app.db('groups').where('system_key', 'administrators').first()
  const bo = await app.services.accounts.createAccount({ firstName: 'Bo', lastName: 'Two', email: 'bo@example.com', password: 'second administrator here' }, [adminGroup.id], actor)

  // Hold both rows, so each block reads "the other is active" and then waits to write, unless the
  // Administrators lock makes the second one wait before it reads.
  const hold = await app.db.transaction()
  await hold('developers').whereIn('id', [ada.id, bo.id]).forUpdate().select('id')
  const both = Promise.allSettled([app.services.accounts.blockAccount(ada.id, actor), app.services.accounts.blockAccount(bo.id, actor)])
  await new Promise((resolve) => setTimeout(resolve, 300))
  await hold.commit()
  const results = await both

  t.same(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'])
  const active = await app.db('developers').whereIn('id', [ada.id, bo.id]).where('state', 'active').count({ n: '*' }).first()
  t.equal(Number(active?.n), 1, 'an active administrator remains')
})
