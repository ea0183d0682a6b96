import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'

async function setup (t: Test): Promise<{ app: FastifyInstance, admin: Client }> {
  const app = await makeApp(t)
  await createAdmin(app)
  return { app, admin: await signedInClient(app, ADMIN) }
}

async function systemGroup (app: FastifyInstance, key: string): Promise<number> {
  return (await app.db('groups').where('system_key', key).first()).id
}

t.test('the Groups page lists every group with type, description and member count; create a custom group', async (t) => {
  const { app, admin } = await setup(t)
  await createDeveloper(app)
  const page = await admin.get('/admin/groups')
  t.equal(page.statusCode, 200)
  t.match(page.body, /Administrators<\/a><\/td>\s*<td data-label="Type">System<\/td>/)
  t.match(page.body, /Developers<\/a><\/td>\s*<td data-label="Type">System<\/td>\s*<td data-label="Description">[^<]+<\/td>\s*<td data-label="Members">2<\/td>/)

  const res = await admin.post('/admin/groups', { name: 'Partners', description: 'External partner teams' })
  t.equal(res.statusCode, 303)
  const group = await app.db('groups').where('name_normalized', 'partners').first()
  t.equal(res.headers.location, `/admin/groups/${group.id as number}`)
  t.equal(group.system_key, null)
  const list = await admin.get('/admin/groups')
  t.match(list.body, /Partners<\/a><\/td>\s*<td data-label="Type">Custom<\/td>\s*<td data-label="Description">External partner teams<\/td>\s*<td data-label="Members">0<\/td>/)
  t.ok(await app.db('audit_events').where({ action: 'group.created', target_id: group.id }).first())

  const dup = await admin.post('/admin/groups', { name: '  PARTNERS ', description: '' })
  t.equal(dup.statusCode, 409)
  t.match(dup.body, /A group with this name already exists/)
  t.match(dup.body, /value="  PARTNERS "/, 'input kept')
  const dupSystem = await admin.post('/admin/groups', { name: 'administrators', description: '' })
  t.equal(dupSystem.statusCode, 409)
  const empty = await admin.post('/admin/groups', { name: ' ', description: 'x'.repeat(1001) })
  t.equal(empty.statusCode, 400)
  t.match(empty.body, /Enter the group name/)
  t.match(empty.body, /at most 1000 characters/)
})

t.test('edit and delete a custom group (behind a confirmation); system groups refuse both', async (t) => {
  const { app, admin } = await setup(t)
  const dev = await createDeveloper(app)
  await admin.post('/admin/groups', { name: 'Partners', description: '' })
  const group = await app.db('groups').where('name_normalized', 'partners').first()
  await app.services.groups.addMemberById(group.id, dev.id, { id: null, label: 'test', ip: null })

  t.equal((await admin.post(`/admin/groups/${group.id as number}`, { name: 'Key partners', description: 'Top tier' })).statusCode, 303)
  t.match((await admin.get(`/admin/groups/${group.id as number}`)).body, /The group Key partners was saved/)
  t.ok(await app.db('audit_events').where({ action: 'group.edited', target_id: group.id }).first())
  await admin.post('/admin/groups', { name: 'Other', description: '' })
  const clash = await admin.post(`/admin/groups/${group.id as number}`, { name: 'other', description: '' })
  t.equal(clash.statusCode, 409)

  const confirm = await admin.get(`/admin/groups/${group.id as number}/delete`)
  t.match(confirm.body, /its 1 membership are removed/)
  t.ok(await app.db('groups').where('id', group.id).first(), 'the confirmation page changes nothing')
  t.equal((await admin.post(`/admin/groups/${group.id as number}/delete`)).statusCode, 303)
  t.equal(await app.db('groups').where('id', group.id).first(), undefined)
  t.equal(await app.db('developer_groups').where('group_id', group.id).first(), undefined, 'memberships went with it')
  t.ok(await app.db('developers').where('id', dev.id).first(), 'the account stays')
  t.ok(await app.db('audit_events').where({ action: 'group.deleted', target_id: group.id }).first())

  for (const key of ['administrators', 'developers', 'guests']) {
    const id = await systemGroup(app, key)
    const rename = await admin.post(`/admin/groups/${id}`, { name: 'Renamed', description: '' })
    t.equal(rename.statusCode, 409, `${key} cannot be renamed`)
    t.match(rename.body, /system group/)
    t.equal((await admin.post(`/admin/groups/${id}/delete`)).statusCode, 409, `${key} cannot be deleted`)
  }
  t.same(await app.db('groups').whereNotNull('system_key').orderBy('id').pluck('name'), ['Administrators', 'Developers', 'Guests'])
})

t.test('group page: add by email, add many with a report, search and pages, remove', async (t) => {
  const { app, admin } = await setup(t)
  await createDeveloper(app)
  await createDeveloper(app, { firstName: 'Bea', lastName: 'Second', email: 'bea@example.com', password: DEV.password })
  await app.db('developers').insert({ email: 'pending@example.com', email_normalized: 'pending@example.com', first_name: 'P', last_name: 'Q', name_normalized: 'p q', state: 'pending', created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' })
  await admin.post('/admin/groups', { name: 'Partners', description: '' })
  const id = (await app.db('groups').where('name_normalized', 'partners').first()).id as number

  const one = await admin.post(`/admin/groups/${id}/members`, { email: ' DEV@example.com ' })
  t.equal(one.statusCode, 303)
  t.match((await admin.get(`/admin/groups/${id}`)).body, /DEV@example\.com was added to the group\./)
  // A refusal looks like one: 4xx, the message beside the field, in the error summary, the input kept.
  const again = await admin.post(`/admin/groups/${id}/members`, { email: 'dev@example.com' })
  t.equal(again.statusCode, 409)
  t.match(again.body, /<p class="error" id="email-error"><span class="visually-hidden">Error: <\/span>dev@example\.com is already a member of this group\.<\/p>/)
  t.match(again.body, /<div class="error-summary" role="alert"/)
  t.match(again.body, /<title>Error: /)
  t.notMatch(again.body, /class="flash"/, 'no success message')
  const unknown = await admin.post(`/admin/groups/${id}/members`, { email: 'nobody@example.com' })
  t.equal(unknown.statusCode, 409)
  t.match(unknown.body, /There is no account with the email address nobody@example\.com\./)
  t.match(unknown.body, /value="nobody@example\.com"/)
  const invalid = await admin.post(`/admin/groups/${id}/members`, { email: 'not an email' })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.body, /Enter an email address like name@example\.com/)
  const none = await admin.post(`/admin/groups/${id}/members`, { emails: 'nobody@example.com\nnot-an-email' })
  t.equal(none.statusCode, 409, 'nobody added from the list: a refusal')
  t.match(none.body, /<div class="alert" role="alert">/)

  const many = await admin.post(`/admin/groups/${id}/members`, { emails: 'bea@example.com\r\ndev@example.com\nnobody@example.com\n\npending@example.com\nnot-an-email\nno-dot@localhost\n' })
  t.equal(many.statusCode, 200)
  t.match(many.body, /<li>bea@example\.com: added<\/li>/)
  t.match(many.body, /<li>dev@example\.com: already a member<\/li>/)
  t.match(many.body, /<li>nobody@example\.com: no such account<\/li>/)
  t.match(many.body, /<li>pending@example\.com: pending invitation<\/li>/)
  t.match(many.body, /<li>not-an-email: not an email address<\/li>/)
  t.match(many.body, /<li>no-dot@localhost: not an email address<\/li>/, 'the same email rule as Add user')
  t.match(many.body, /Members \(2\)/)
  t.equal((await admin.post(`/admin/groups/${id}/members`, { emails: '\n \n' })).statusCode, 400)

  const search = await admin.get(`/admin/groups/${id}?q=bea`)
  t.match(search.body, /Bea Second/)
  t.notMatch(search.body, /Dev Eloper/)

  const bea = await app.db('developers').where('email_normalized', 'bea@example.com').first()
  t.equal((await admin.post(`/admin/groups/${id}/members/${bea.id as number}/remove`)).statusCode, 303)
  t.match((await admin.get(`/admin/groups/${id}`)).body, /Bea Second was removed from Partners/)
  t.equal(await app.db('developer_groups').where({ group_id: id, developer_id: bea.id }).first(), undefined)
  t.equal((await admin.post(`/admin/groups/${id}/members/${bea.id as number}/remove`)).statusCode, 404, 'not a member any more')
  for (const action of ['group.member-added', 'group.member-removed']) t.ok(await app.db('audit_events').where({ action, target_id: id }).first(), action)
})

t.test('paging through members', async (t) => {
  const { app, admin } = await setup(t)
  const developers = await systemGroup(app, 'developers')
  const now = new Date().toISOString()
  await app.db.batchInsert('developers', Array.from({ length: 30 }, (_, i) => ({ email: `m${i}@example.org`, email_normalized: `m${i}@example.org`, first_name: `M${String(i).padStart(2, '0')}`, last_name: 'Member', name_normalized: `m${String(i).padStart(2, '0')} member`, state: 'active', created_at: now, updated_at: now })), 30)
  const ids: number[] = await app.db('developers').where('email_normalized', 'like', 'm%@example.org').pluck('id')
  await app.db('developer_groups').insert(ids.map((id) => ({ developer_id: id, group_id: developers, created_at: now })))
  const first = await admin.get(`/admin/groups/${developers}`)
  t.match(first.body, /Members \(31\)/)
  t.match(first.body, /Page 1 of 2/)
  const second = await admin.get(`/admin/groups/${developers}?page=2`)
  t.match(second.body, /Page 2 of 2/)
  t.equal((second.body.match(/data-label="Email"/g) ?? []).length, 6)
})

t.test('Guests takes no members; nobody leaves Developers', async (t) => {
  const { app, admin } = await setup(t)
  const dev = await createDeveloper(app)
  const guests = await systemGroup(app, 'guests')
  const res = await admin.post(`/admin/groups/${guests}/members`, { email: DEV.email })
  t.equal(res.statusCode, 409)
  t.match(res.body, /takes no members/)
  const developers = await systemGroup(app, 'developers')
  const leave = await admin.post(`/admin/groups/${developers}/members/${dev.id}/remove`)
  t.equal(leave.statusCode, 409)
  t.match(leave.body, /Every account is in Developers/)
  t.ok(await app.db('developer_groups').where({ group_id: developers, developer_id: dev.id }).first())
})

t.test('developer details: groups shown, added and removed there; Add user lists custom groups', async (t) => {
  const { app, admin } = await setup(t)
  const dev = await createDeveloper(app)
  await admin.post('/admin/groups', { name: 'Partners', description: '' })
  const partners = (await app.db('groups').where('name_normalized', 'partners').first()).id as number
  t.match((await admin.get('/admin/developers/new')).body, new RegExp(`name="groups" value="${partners}"> Partners`))

  const details = await admin.get(`/admin/developers/${dev.id}`)
  t.match(details.body, new RegExp(`<option value="${partners}">Partners</option>`))
  t.notMatch(details.body, />Guests<\/option>/)
  t.equal((await admin.post(`/admin/developers/${dev.id}/groups`, { groupId: String(partners) })).statusCode, 303)
  const after = await admin.get(`/admin/developers/${dev.id}`)
  t.match(after.body, /Added to Partners/)
  t.match(after.body, new RegExp(`<a href="/admin/groups/${partners}">Partners</a>`))
  const filtered = await admin.get(`/admin/developers?group=${partners}`)
  t.match(filtered.body, /1 developer</)
  t.match(filtered.body, /dev@example\.com/)

  t.equal((await admin.post(`/admin/developers/${dev.id}/groups/${partners}/remove`)).statusCode, 303)
  t.match((await admin.get(`/admin/developers/${dev.id}`)).body, /Removed from Partners/)
  t.equal((await admin.post(`/admin/developers/${dev.id}/groups`, { groupId: '99999' })).statusCode, 404)
})

t.test('Administrators membership takes effect on the next request; the last active administrator cannot leave', async (t) => {
  const { app, admin } = await setup(t)
  const dev = await createDeveloper(app)
  const devClient = await signedInClient(app, DEV)
  t.equal((await devClient.get('/admin')).statusCode, 403)
  const admins = await systemGroup(app, 'administrators')
  await admin.post(`/admin/groups/${admins}/members`, { email: DEV.email })
  t.equal((await devClient.get('/admin')).statusCode, 200, 'the same session now reaches /admin')
  await admin.post(`/admin/groups/${admins}/members/${dev.id}/remove`)
  t.equal((await devClient.get('/admin')).statusCode, 403, 'and loses it on the next request')

  const ada = await app.db('developers').where('email_normalized', ADMIN.email).first()
  const last = await admin.post(`/admin/groups/${admins}/members/${ada.id as number}/remove`)
  t.equal(last.statusCode, 409)
  t.match(last.body, /Ada Admin is the last active administrator: make another account an administrator first/)
  t.ok(await app.db('developer_groups').where({ group_id: admins, developer_id: ada.id }).first())
})

t.test('wrong ids and junk are 4xx', async (t) => {
  const { admin } = await setup(t)
  t.equal((await admin.get('/admin/groups/999')).statusCode, 404)
  t.equal((await admin.get('/admin/groups/x')).statusCode, 404)
  t.equal((await admin.get('/admin/groups/1?page=0')).statusCode, 400)
  t.equal((await admin.post('/admin/groups/999/delete')).statusCode, 404)
  t.equal((await admin.post('/admin/groups/1/members/x/remove')).statusCode, 404)
  t.equal((await admin.post('/admin/groups', { name: ['a', 'b'], description: '' })).statusCode, 400)
})
