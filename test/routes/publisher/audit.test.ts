import t from 'tap'
import { defused } from '../../../src/services/transfer/spreadsheet-cells'
import { ADMIN, DEV, createAdmin, createDeveloper, makeApp, signedInClient, Client } from '../../helpers'

t.test('every admin action is in the audit log with actor, target, time and client address', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = new Client(app, '192.0.2.44')
  await admin.signIn(ADMIN.email, ADMIN.password)
  await admin.post('/admin/developers', { firstName: 'Dev', lastName: 'Eloper', email: DEV.email, password: DEV.password })
  const dev = await app.db('developers').where('email_normalized', DEV.email).first()
  await admin.post(`/admin/developers/${dev.id as number}/block`)
  await admin.post(`/admin/developers/${dev.id as number}/activate`)
  await admin.post('/admin/groups', { name: 'Partners', description: '' })
  const group = await app.db('groups').where('name_normalized', 'partners').first()
  await admin.post(`/admin/groups/${group.id as number}/members`, { email: DEV.email })
  await admin.post(`/admin/groups/${group.id as number}/members/${dev.id as number}/remove`)
  await admin.post(`/admin/groups/${group.id as number}`, { name: 'Partners 2', description: '' })
  await admin.post(`/admin/groups/${group.id as number}/delete`)
  await admin.post('/admin/invitations', { firstName: 'Ivy', lastName: 'I', email: 'ivy@example.com' })
  const ivy = await app.db('developers').where('email_normalized', 'ivy@example.com').first()
  await admin.post(`/admin/invitations/${ivy.id as number}/resend`)
  await admin.post(`/admin/invitations/${ivy.id as number}/revoke`)
  await admin.post('/admin/email-templates/farewell', { subject: 'Bye', body: 'Bye $DevFirstName', enabled: 'on' })
  await admin.post(`/admin/developers/${dev.id as number}/delete`)

  const events = await app.db('audit_events').where('actor_label', ADMIN.email).whereNot('action', 'administrator.created').orderBy('id').select()
  t.same(events.map((e) => e.action), [
    'developer.created', 'developer.blocked', 'developer.activated', 'group.created', 'group.member-added', 'group.member-removed',
    'group.edited', 'group.deleted', 'developer.invited', 'invitation.resent', 'invitation.revoked', 'template.edited', 'developer.deleted'
  ])
  for (const e of events) {
    t.equal(e.ip, '192.0.2.44', `${e.action}: from where`)
    t.match(e.created_at, /^\d{4}-\d\d-\d\dT/, `${e.action}: when`)
    t.ok(e.target_label, `${e.action}: whom`)
  }

  const page = await admin.get('/admin/audit')
  t.equal(page.statusCode, 200)
  t.match(page.body, /<code>developer\.deleted<\/code>/)
  t.match(page.body, /192\.0\.2\.44/)
  const byAction = await admin.get('/admin/audit?action=developer.blocked')
  t.match(byAction.body, /1 event</)
  const byTarget = await admin.get('/admin/audit?target=partners')
  t.match(byTarget.body, /5 events</, 'created, member added, removed, edited, deleted')
  const byActor = await admin.get('/admin/audit?actor=nobody')
  t.match(byActor.body, /No events match/)
  t.equal((await admin.get('/admin/audit?action=drop-table')).statusCode, 400)
})

t.test('the audit log pages, and its CSV export streams every matching event', async (t) => {
  const app = await makeApp(t)
  const ada = await createAdmin(app)
  const now = Date.now()
  await app.db.batchInsert('audit_events', Array.from({ length: 1234 }, (_, i) => ({
    created_at: new Date(now + i).toISOString(), actor_id: ada.id, actor_label: ADMIN.email, action: i % 2 === 0 ? 'developer.blocked' : 'developer.activated',
    target_type: 'developer', target_id: i, target_label: i === 7 ? '=HYPERLINK("http://evil")' : `user${i}@example.com`, ip: '127.0.0.1', details: null
  })), 200)
  const admin = await signedInClient(app, ADMIN)
  const page = await admin.get('/admin/audit?page=2')
  t.match(page.body, /Page 2 of 25/)

  const csv = await admin.get('/admin/audit.csv')
  t.equal(csv.statusCode, 200)
  t.match(String(csv.headers['content-type']), /^text\/csv/)
  t.match(String(csv.headers['content-disposition']), /attachment; filename="portico-audit-\d{4}-\d\d-\d\d\.csv"/)
  const lines = csv.body.trim().split('\r\n')
  t.equal(lines[0], 'time,actor,actor_id,action,target_type,target_id,target,client_address,details')
  t.equal(lines.length, 1 + 1234 + 1, 'every event (and the administrator.created one), across batches')
  t.match(csv.body, `"'=HYPERLINK(""http://evil"")"`, 'formulas are defused and quotes doubled')

  const filtered = await admin.get('/admin/audit.csv?action=developer.activated')
  t.equal(filtered.body.trim().split('\r\n').length, 1 + 617)
  t.equal(defused(null), '')
  t.equal(defused('+1'), "'+1")
  t.equal(defused(12), '12')

  await createDeveloper(app)
  const dev = await signedInClient(app, DEV)
  t.equal((await dev.get('/admin/audit.csv')).statusCode, 403, 'administrators only')
})
