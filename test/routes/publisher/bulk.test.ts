import t from 'tap'
import { ADMIN, countOf, createAdmin, makeApp, signedInClient } from '../../helpers'

async function seed (t: { teardown: (fn: () => unknown) => void }, count: number) {
  const app = await makeApp(t)
  const admin = await createAdmin(app)
  const actor = { id: admin.id, label: admin.email, ip: null }
  const ids: number[] = []
  for (let i = 0; i < count; i++) {
    const account = await app.services.accounts.createAccount({ firstName: 'Dev', lastName: `Number ${i}`, email: `dev${i}@example.com`, password: 'a long and quiet river bend' }, [], actor)
    ids.push(account.id)
  }
  const client = await signedInClient(app, ADMIN)
  return { app, admin, client, ids, actor }
}

t.test('select all on this page re-renders the page with every row ticked, without JavaScript', async (t) => {
  const { client, ids } = await seed(t, 3)
  const plain = await client.get('/admin/developers?sort=email')
  t.equal((plain.body.match(/name="ids"[^>]* checked/g) ?? []).length, 0)
  t.match(plain.body, /<button type="submit" form="select-all">Select all on this page<\/button>/)
  const all = await client.get('/admin/developers?sort=email&select=all')
  t.equal((all.body.match(/name="ids" value="\d+" checked/g) ?? []).length, ids.length + 1, 'every row on the page, the administrator too')
  t.match(all.body, /<input type="hidden" name="sort" value="email">/, 'the filters go with the bulk form')
  t.match(all.body, /Clear selection/)
})

t.test('bulk block: one transaction, audited per account, own account skipped with the reason', async (t) => {
  const { app, admin, client, ids } = await seed(t, 3)
  await client.get('/admin/developers')
  const res = await client.post('/admin/developers/bulk', { ids: [String(ids[0]), String(ids[1]), String(admin.id)], action: 'block', sort: 'email' })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/admin/developers/bulk?sort=email')
  const result = await client.get(String(res.headers.location))
  t.equal(result.statusCode, 200)
  t.match(result.body, /Block: 2 of 3 done/)
  t.match(result.body, /dev0@example.com[\s\S]*Done/)
  t.match(result.body, /Skipped<\/span> You cannot block or delete your own account\./)
  t.same((await app.db('developers').whereIn('id', ids).orderBy('id').pluck('state')), ['blocked', 'blocked', 'active'])
  t.equal(await countOf(app.db('audit_events').where('action', 'developer.blocked')), 2, 'one audit entry per account')
  t.equal((await client.get('/admin/developers/bulk')).statusCode, 303, 'the result is shown once')

  const again = await client.post('/admin/developers/bulk', { ids: [String(ids[0])], action: 'block' })
  await client.get(String(again.headers.location)).then((r) => t.match(r.body, /already blocked/))
  const activated = await client.post('/admin/developers/bulk', { ids: ids.map(String), action: 'activate' })
  t.match((await client.get(String(activated.headers.location))).body, /Activate: 2 of 3 done/)
})

t.test('the last administrator is refused inside a bulk block, and the rest of the transaction goes on', async (t) => {
  const { app, ids, actor } = await seed(t, 2)
  const second = await app.services.accounts.createAccount({ firstName: 'Bo', lastName: 'Boss', email: 'bo@example.com', password: 'another long passphrase here' }, [1], actor)
  const system = { id: null, label: 'script', ip: null }
  const outcomes = await app.services.accounts.changeMany('block', [actor.id, second.id, ids[0]], system)
  t.same(outcomes.map((o) => o.done), [true, false, true])
  t.match(outcomes[1].reason, /last active administrator/)
  const state = async (id: number): Promise<string> => (await app.db('developers').where('id', id).first()).state
  t.same([await state(actor.id), await state(second.id), await state(ids[0])], ['blocked', 'active', 'blocked'])
})

t.test('bulk add to group and bulk delete (after a confirmation page listing who)', async (t) => {
  const { app, client, ids } = await seed(t, 3)
  const group = await app.services.groups.createGroup({ name: 'Partners', description: '' }, { id: null, label: 'test', ip: null })
  await client.get('/admin/developers')
  const noGroup = await client.post('/admin/developers/bulk', { ids: [String(ids[0])], action: 'addToGroup', groupId: '' })
  t.equal(noGroup.statusCode, 400)
  t.match(noGroup.body, /Choose the group to add them to/)
  t.match(noGroup.body, new RegExp(`name="ids" value="${ids[0]}" checked`), 'the selection is kept')
  t.equal((await client.post('/admin/developers/bulk', { action: 'block' })).statusCode, 400, 'nothing selected')
  t.match((await client.post('/admin/developers/bulk', { ids: [String(ids[0])], action: 'explode' })).body, /Choose what to do/)

  const added = await client.post('/admin/developers/bulk', { ids: [String(ids[0]), String(ids[1])], action: 'addToGroup', groupId: String(group.id) })
  t.match((await client.get(String(added.headers.location))).body, /Add to Partners: 2 of 2 done/)
  const twice = await client.post('/admin/developers/bulk', { ids: [String(ids[0])], action: 'addToGroup', groupId: String(group.id) })
  t.match((await client.get(String(twice.headers.location))).body, /already a member/)

  await client.get('/admin/developers')
  const confirm = await client.post('/admin/developers/bulk', { ids: [String(ids[0]), String(ids[2])], action: 'delete' })
  t.equal(confirm.statusCode, 200)
  t.match(confirm.body, /Delete 2 developers\?/)
  t.match(confirm.body, /dev0@example.com[\s\S]*dev2@example.com/)
  t.equal(Number((await app.db('developers').whereIn('id', ids).count({ n: '*' }).first())?.n), 3, 'nothing deleted yet')
  const deleted = await client.post('/admin/developers/bulk', { ids: [String(ids[0]), String(ids[2])], action: 'delete', confirm: 'yes' })
  t.equal(deleted.statusCode, 303)
  t.match((await client.get(String(deleted.headers.location))).body, /Delete: 2 of 2 done/)
  t.same(await app.db('developers').whereIn('id', ids).pluck('id'), [ids[1]])
  t.same((await app.db('outbox_emails').where('template', 'farewell').pluck('to_address')).sort(), ['dev0@example.com', 'dev2@example.com'])
  t.equal((await client.post('/admin/developers/bulk', { ids: [String(ids[1])], action: 'block', _csrf: 'forged' })).statusCode, 403, 'CSRF checked')
})
