import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'

async function setup (t: Test): Promise<{ app: FastifyInstance, admin: Client }> {
  const app = await makeApp(t)
  await createAdmin(app)
  return { app, admin: await signedInClient(app, ADMIN) }
}

/** Many accounts straight into the table (hashing each would be slow and is not under test). */
async function seed (app: FastifyInstance, count: number, state = 'active'): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => {
    const n = String(i).padStart(3, '0')
    return {
      email: `user${n}@example.org`,
      email_normalized: `user${n}@example.org`,
      first_name: `User${n}`,
      last_name: 'Seeded',
      name_normalized: `user${n} seeded`,
      password_hash: null,
      state,
      created_at: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      updated_at: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()
    }
  })
  await app.db.batchInsert('developers', rows, 100)
}

t.test('Add user: active at once, in Developers, audited', async (t) => {
  const { app, admin } = await setup(t)
  const form = await admin.get('/admin/developers/new')
  t.equal(form.statusCode, 200)
  t.match(form.body, /<input type="checkbox" checked disabled> Developers/)
  t.match(form.body, /name="groups" value="\d+"> Administrators/)

  const res = await admin.post('/admin/developers', { firstName: 'Grace', lastName: 'Hopper', email: 'Grace@Example.com', password: 'compilers are friendly things' })
  t.equal(res.statusCode, 303)
  const page = await admin.get(String(res.headers.location))
  t.match(page.body, /Grace Hopper was added and is active/)
  t.match(page.body, /state-active/)
  t.match(page.body, /Developers/)

  const row = await app.db('developers').where('email_normalized', 'grace@example.com').first()
  t.equal(row.state, 'active')
  t.match(row.password_hash, /^\$scrypt\$/)
  const groups = await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').where('developer_id', row.id).pluck('groups.system_key')
  t.same(groups, ['developers'])
  const audit = await app.db('audit_events').where({ action: 'developer.created', target_id: row.id }).first()
  t.equal(audit.actor_label, ADMIN.email)
  t.equal(audit.ip, '127.0.0.1')

  const dev = new Client(app)
  t.equal((await dev.signIn('grace@example.com', 'compilers are friendly things')).statusCode, 303, 'the new developer can sign in')
})

t.test('Add user with Administrators ticked gives /admin', async (t) => {
  const { app, admin } = await setup(t)
  const adminGroup = await app.db('groups').where('system_key', 'administrators').first()
  const guests = await app.db('groups').where('system_key', 'guests').first()
  const fields = { firstName: 'Second', lastName: 'Admin', email: 'second@example.com', password: 'two admins are better than one' }
  // The form offers no Guests box; a forged one is refused beside the groups, not dropped.
  const forged = await admin.post('/admin/developers', { ...fields, groups: [String(adminGroup.id), String(guests.id)] })
  t.equal(forged.statusCode, 400)
  t.match(forged.body, /<p class="error" id="groups-error"><span class="visually-hidden">Error: <\/span>Guests stands for signed-out visitors and takes no members\.<\/p>/)
  t.match(forged.body, /value="Second"/, 'input kept')
  t.match(forged.body, new RegExp(`name="groups" value="${String(adminGroup.id)}" checked`), 'the ticked group kept')
  const unknown = await admin.post('/admin/developers', { ...fields, groups: ['99999'] })
  t.equal(unknown.statusCode, 400)
  t.match(unknown.body, /There is no group with the id 99999\./)
  await admin.post('/admin/developers', { ...fields, groups: [String(adminGroup.id)] })
  const row = await app.db('developers').where('email_normalized', 'second@example.com').first()
  const groups = await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').where('developer_id', row.id).pluck('groups.system_key')
  t.same(groups.sort(), ['administrators', 'developers'])
  const second = await signedInClient(app, { email: 'second@example.com', password: 'two admins are better than one' })
  t.equal((await second.get('/admin')).statusCode, 200)
})

t.test('Add user: duplicate email in any case or with spaces is 409; bad input is 400 beside the field', async (t) => {
  const { app, admin } = await setup(t)
  await createDeveloper(app)
  const dup = await admin.post('/admin/developers', { firstName: 'Other', lastName: 'Person', email: '  DEV@example.COM ', password: 'some other long passphrase' })
  t.equal(dup.statusCode, 409)
  t.match(dup.body, /<p class="error" id="email-error"><span class="visually-hidden">Error: <\/span>An account with this email address already exists\.<\/p>/)
  t.match(dup.body, /value="Other"/, 'input kept')

  const bad = await admin.post('/admin/developers', { firstName: 'x'.repeat(101), lastName: 'Ok', email: 'nope', password: 'password12345678' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /first name can be at most 100 characters/)
  t.match(bad.body, /id="email-error"/)
  t.match(bad.body, /too common/)
  t.notMatch(bad.body, /password12345678/, 'password not echoed')
  t.equal(await app.db('developers').count({ n: '*' }).first().then((r) => Number(r?.n)), 2, 'nothing written')
})

t.test('markup in names is shown escaped', async (t) => {
  const { admin } = await setup(t)
  const res = await admin.post('/admin/developers', { firstName: '<script>alert(1)</script>', lastName: '"&\'', email: 'xss@example.com', password: 'escaping is not optional' })
  t.equal(res.statusCode, 303)
  for (const url of ['/admin/developers', String(res.headers.location)]) {
    const page = await admin.get(url)
    t.notMatch(page.body, /<script>alert/)
    t.match(page.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/)
  }
})

t.test('the Developers list: search, filters, sort, pages of 25 with the total', async (t) => {
  const { app, admin } = await setup(t)
  await seed(app, 30)
  await createDeveloper(app, { firstName: 'Blocked', lastName: 'Person', email: 'blocked@example.net', password: DEV.password })
  const blocked = await app.db('developers').where('email_normalized', 'blocked@example.net').first()
  await app.db('developers').where('id', blocked.id).update({ state: 'blocked' })
  await app.db('developers').insert({ email: 'pending@example.net', email_normalized: 'pending@example.net', first_name: 'Pending', last_name: 'Invitee', name_normalized: 'pending invitee', state: 'pending', created_at: '2026-02-01T00:00:00.000Z', updated_at: '2026-02-01T00:00:00.000Z' })

  const first = await admin.get('/admin/developers')
  t.equal(first.statusCode, 200)
  t.match(first.body, /32 developers/, 'admin + 30 + blocked; the pending invitee is not listed')
  t.notMatch(first.body, /pending@example\.net/)
  t.equal((first.body.match(/<tr>/g) ?? []).length, 26, 'header row + 25')
  t.match(first.body, /Page 1 of 2/)
  const second = await admin.get('/admin/developers?page=2')
  t.equal((second.body.match(/<tr>/g) ?? []).length, 8)

  const search = await admin.get('/admin/developers?q=USER01')
  t.match(search.body, /10 developers/, 'case-insensitive name search: user010..user019')
  t.match((await admin.get('/admin/developers?q=example.net')).body, /1 developer</, 'email search')
  t.match((await admin.get('/admin/developers?q=%25')).body, /0 developers/, '% is literal, not a wildcard')
  t.match((await admin.get('/admin/developers?q=zzz')).body, /No developers match/)

  const onlyBlocked = await admin.get('/admin/developers?state=blocked')
  t.match(onlyBlocked.body, /1 developer</)
  t.match(onlyBlocked.body, /blocked@example\.net/)

  const adminGroup = await app.db('groups').where('system_key', 'administrators').first()
  const inAdmins = await admin.get(`/admin/developers?group=${adminGroup.id as number}`)
  t.match(inAdmins.body, /1 developer</)
  t.match(inAdmins.body, /ada@example\.com/)

  const byEmail = await admin.get('/admin/developers?sort=email')
  const emails = [...byEmail.body.matchAll(/<td data-label="Email">([^<]+)<\/td>/g)].map((m) => m[1])
  t.same(emails, [...emails].sort(), 'sorted by email')
  t.equal(emails[0], 'ada@example.com')
  const byNameDesc = await admin.get('/admin/developers?sort=-name')
  t.match(byNameDesc.body, /<td data-label="Name"><a href="\/admin\/developers\/\d+">User029 Seeded/)
  const oldest = await admin.get('/admin/developers?sort=registered')
  t.match(oldest.body, /<td data-label="Name"><a href="\/admin\/developers\/\d+">User000 Seeded/)
})

t.test('junk query strings and ids are 4xx, never 5xx', async (t) => {
  const { admin } = await setup(t)
  for (const url of ['/admin/developers?page=abc', '/admin/developers?page=0', '/admin/developers?state=pending', '/admin/developers?sort=password_hash', '/admin/developers?group=1;drop', '/admin/developers?q=a&q=b', '/admin/developers?evil=1', `/admin/developers?q=${'x'.repeat(300)}`, '/signin?next=a&next=b']) {
    const res = await admin.get(url)
    t.equal(res.statusCode, 400, url)
    t.notMatch(res.body, /at .*\.ts:\d+/, 'no stack trace')
  }
  for (const url of ['/admin/developers/999', '/admin/developers/abc', '/admin/developers/1e3', '/admin/developers/-1', '/admin/nothing-here']) {
    t.equal((await admin.get(url)).statusCode, 404, url)
  }
  t.equal((await admin.post('/admin/developers/999/block')).statusCode, 404)
})

t.test('developer details; Block ends sessions at once; Activate; Delete behind a confirmation', async (t) => {
  const { app, admin } = await setup(t)
  const dev = await createDeveloper(app)
  const devClient = await signedInClient(app, DEV)
  t.equal((await devClient.get('/profile')).statusCode, 200)

  const details = await admin.get(`/admin/developers/${dev.id}`)
  t.match(details.body, /Dev Eloper/)
  t.match(details.body, /Registered/)
  t.match(details.body, /Last sign-in<\/dt><dd>\d{4}-\d\d-\d\d/)
  t.match(details.body, /action="\/admin\/developers\/\d+\/block"/)

  const block = await admin.post(`/admin/developers/${dev.id}/block`)
  t.equal(block.statusCode, 303)
  t.match((await admin.get(`/admin/developers/${dev.id}`)).body, /is blocked\. Their sessions have ended\./)
  t.equal(Number((await app.db('sessions').where('account_id', dev.id).count({ n: '*' }).first())?.n), 0, 'sessions deleted')
  const next = await devClient.get('/profile')
  t.equal(next.statusCode, 303, 'the very next request is signed out')
  t.match(String(next.headers.location), /^\/signin\?next=/)
  t.match((await devClient.get(String(next.headers.location))).body, /Please sign in to continue/)
  t.equal((await new Client(app).signIn(DEV.email, DEV.password)).statusCode, 400, 'sign-in refused')
  t.ok(await app.db('audit_events').where({ action: 'developer.blocked', target_id: dev.id }).first())

  t.equal((await admin.post(`/admin/developers/${dev.id}/activate`)).statusCode, 303)
  t.equal((await new Client(app).signIn(DEV.email, DEV.password)).statusCode, 303, 'active again')
  t.ok(await app.db('audit_events').where({ action: 'developer.activated', target_id: dev.id }).first())

  const confirm = await admin.get(`/admin/developers/${dev.id}/delete`)
  t.equal(confirm.statusCode, 200)
  t.match(confirm.body, /cannot be undone/)
  t.ok(await app.db('developers').where('id', dev.id).first(), 'the confirmation page changes nothing')
  const del = await admin.post(`/admin/developers/${dev.id}/delete`)
  t.equal(del.statusCode, 303)
  t.equal(del.headers.location, '/admin/developers')
  t.match((await admin.get('/admin/developers')).body, /Dev Eloper was deleted/)
  t.equal(await app.db('developers').where('id', dev.id).first(), undefined)
  t.equal(Number((await app.db('developer_groups').where('developer_id', dev.id).count({ n: '*' }).first())?.n), 0, 'memberships gone')
  t.ok(await app.db('audit_events').where({ action: 'developer.deleted', target_id: dev.id }).first())
})

t.test('the last active administrator can be neither blocked nor deleted', async (t) => {
  const { app, admin } = await setup(t)
  const ada = await app.db('developers').where('email_normalized', ADMIN.email).first()
  const self = await admin.post(`/admin/developers/${ada.id as number}/block`)
  t.equal(self.statusCode, 409)
  t.match(self.body, /cannot block or delete your own account/)
  t.equal((await admin.post(`/admin/developers/${ada.id as number}/delete`)).statusCode, 409, 'nor delete it')
  const activate = await admin.post(`/admin/developers/${ada.id as number}/activate`)
  t.equal(activate.statusCode, 303, 'activating (a no-op here) is not refused as "your own account"')
  await t.rejects(app.services.accounts.blockAccount(ada.id, { id: ada.id, label: ada.email, ip: null }), { statusCode: 409, message: /your own account/ }, 'the rule lives in the service')

  // A second administrator tries to remove the first, who is then the last one standing.
  const adminGroup = await app.db('groups').where('system_key', 'administrators').first()
  const second = await app.services.accounts.createAccount({ firstName: 'Bo', lastName: 'Second', email: 'bo@example.com', password: 'second administrator here' }, [adminGroup.id], { id: ada.id, label: ada.email, ip: null })
  const bo = await signedInClient(app, { email: 'bo@example.com', password: 'second administrator here' })
  t.equal((await bo.post(`/admin/developers/${ada.id as number}/block`)).statusCode, 303, 'blocking one of two administrators works')
  await app.db('developers').where('id', ada.id).update({ state: 'active' })

  const actor = { id: null, label: 'test', ip: null }
  await app.services.accounts.blockAccount(second.id, actor)
  const last = await bo.post(`/admin/developers/${ada.id as number}/block`)
  t.equal(last.statusCode, 303, 'bo is blocked, so bo is signed out')
  await t.rejects(app.services.accounts.blockAccount(ada.id, actor), { statusCode: 409, message: /Ada Admin is the last active administrator: make another account an administrator first\./ })
  await t.rejects(app.services.accounts.deleteAccount(ada.id, actor), { statusCode: 409, message: /Ada Admin is the last active administrator: make another account an administrator first\./ })
  t.equal((await app.db('developers').where('id', ada.id).first()).state, 'active')
})

t.test('/admin: signed-out visitors go to /signin, developers get 403', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await createDeveloper(app)
  const anon = await new Client(app).get('/admin')
  t.equal(anon.statusCode, 303)
  t.equal(anon.headers.location, '/signin?next=%2Fadmin')
  const dev = await signedInClient(app, DEV)
  const denied = await dev.get('/admin/developers')
  t.equal(denied.statusCode, 403)
  t.match(denied.body, /for administrators/)
  const devId = (await app.db('developers').where('email_normalized', DEV.email).first()).id as number
  t.equal((await dev.post(`/admin/developers/${devId}/delete`)).statusCode, 403, 'nor can they act')
  t.ok(await app.db('developers').where('id', devId).first())
})

t.test('deleting an account ends its sessions at once', async (t) => {
  const { app, admin } = await setup(t)
  const dev = await createDeveloper(app)
  const devClient = await signedInClient(app, DEV)
  t.equal((await devClient.get('/profile')).statusCode, 200)
  await admin.post(`/admin/developers/${dev.id}/delete`)
  t.equal(Number((await app.db('sessions').where('account_id', dev.id).count({ n: '*' }).first())?.n), 0)
  t.equal((await devClient.get('/profile')).statusCode, 303)
})
