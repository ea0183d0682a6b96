import t from 'tap'
import type { Knex } from 'knex'
import { ADMIN, countOf, createAdmin, makeApp, makeConfig, signedInClient, type Client } from '../../helpers'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../../src/app'
import { createDb } from '../../../src/db/knex'
import type { Config } from '../../../src/config'
import { TestClock } from '../../clock'

/** A connection to a closed app's database, to look at what it left. */
const opened: Knex[] = []
function knexOf (config: Config): Knex {
  const db = createDb(config.databaseUrl)
  opened.push(db)
  return db
}
t.teardown(async () => { await Promise.all(opened.map(async (db) => await db.destroy())) })

async function setup (t: { teardown: (fn: () => unknown) => void }) {
  const app = await makeApp(t)
  const admin = await createAdmin(app)
  const client = await signedInClient(app, ADMIN)
  await client.get('/admin/developers/import')
  return { app, admin, client }
}

async function preview (client: Client, content: string | Buffer, mode = 'invite') {
  await client.get('/admin/developers/import')
  return await client.postMultipart('/admin/developers/import', { mode }, { file: ['people.csv', content] })
}

async function runImport (client: Client, previewBody: string) {
  const id = /name="importId" value="(\d+)"/.exec(previewBody)?.[1]
  if (id === undefined) throw new Error('no import to run')
  return await client.post('/admin/developers/import', { importId: id })
}

async function accounts (app: FastifyInstance) {
  const rows = await app.db('developers').orderBy('email_normalized').select('id', 'email', 'first_name', 'last_name', 'state')
  const groups = await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').select('developer_groups.developer_id', 'groups.name')
  return rows.map((r) => ({ email: r.email, firstName: r.first_name, lastName: r.last_name, state: r.state, groups: groups.filter((g) => g.developer_id === r.id).map((g) => g.name).sort() }))
}

t.test('export: the filtered list, every page, streamed as CSV with formulas defused', async (t) => {
  const { app, admin, client } = await setup(t)
  const actor = { id: admin.id, label: admin.email, ip: null }
  for (let i = 0; i < 60; i++) {
    await app.services.accounts.createAccount({ firstName: i === 0 ? '=HYPERLINK("http://evil")' : `Dev ${i}`, lastName: 'Person, "Quoted"', email: `dev${String(i).padStart(2, '0')}@example.com`, password: 'a long and quiet river bend' }, [], actor)
  }
  await app.services.accounts.blockAccount((await app.db('developers').where('email', 'dev05@example.com').first()).id, actor)
  const res = await client.get('/admin/developers.csv?sort=email')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/csv/)
  t.match(res.headers['content-disposition'], /attachment; filename="portico-developers-/)
  t.equal(res.headers['cache-control'], 'no-store')
  t.same([...res.rawPayload.subarray(0, 3)], [0xEF, 0xBB, 0xBF], 'a UTF-8 byte order mark first, for Excel')
  const lines = res.body.replace(/^\uFEFF/, '').replace(/\r\n$/, '').split('\r\n')
  t.equal(lines[0], 'email,firstName,lastName,groups,state,createdAt,lastSignInAt,id')
  t.equal(lines.length, 1 + 61, 'every page, the administrator too')
  t.match(lines[1], /^"ada@example.com","Ada","Admin","Administrators; Developers","active"/)
  t.match(res.body, `"'=HYPERLINK(""http://evil"")"`, 'formulas defused, quotes doubled')
  t.match(res.body, '"Person, ""Quoted"""')
  const blocked = await client.get('/admin/developers.csv?state=blocked')
  t.equal(blocked.body.trim().split('\r\n').length, 2)
  t.match(blocked.body, /dev05@example.com/)
  const searched = await client.get('/admin/developers.csv?q=dev1&sort=-email')
  t.same(searched.body.trim().split('\r\n').slice(1).map((l) => l.split(',')[0]), ['"dev19@example.com"', '"dev18@example.com"', '"dev17@example.com"', '"dev16@example.com"', '"dev15@example.com"', '"dev14@example.com"', '"dev13@example.com"', '"dev12@example.com"', '"dev11@example.com"', '"dev10@example.com"'])
  t.equal((await client.get('/admin/developers.csv?state=nope')).statusCode, 400)
  t.equal((await new (client.constructor as typeof Client)(app).get('/admin/developers.csv')).statusCode, 303, 'administrators only')
})

t.test('import: a preview of every row, then one run; running it again changes nothing new', async (t) => {
  const { app, client } = await setup(t)
  await app.services.groups.createGroup({ name: 'Partners', description: '' }, { id: null, label: 'test', ip: null })
  const csv = '\uFEFFemail,firstName,lastName,groups,notes\r\n' +
    'one@example.com,One,Person,Partners,\r\n' +
    '"two@example.com","Two, Jr.","Per""son","Partners; Beta Testers","multi\r\nline"\r\n' +
    'bad-address,Bad,Email,,\r\n' +
    `${ADMIN.email},Ada,Admin,,\r\n` +
    'ONE@example.com,Dup,Licate,,\r\n' +
    'guest@example.com,Gu,Est,Guests,\r\n'
  const shown = await preview(client, csv, 'create')
  t.equal(shown.statusCode, 200)
  t.match(shown.body, /Check the import/)
  t.match(shown.body, /<strong>2<\/strong> will be created/)
  t.match(shown.body, /<strong>1<\/strong> already has an account/)
  t.match(shown.body, /<strong>3<\/strong> are invalid/)
  t.match(shown.body, /Enter an email address like name@example.com/)
  t.match(shown.body, /already on line 2/)
  t.match(shown.body, /Guests stands for signed-out visitors and takes no members/)
  t.match(shown.body, /will be created: Beta Testers/)
  t.match(shown.body, /Columns not imported: notes/)
  t.match(shown.body, /Two, Jr\./)
  t.equal(await app.db('developers').count({ n: '*' }).first().then((r) => Number(r?.n)), 1, 'nothing written by the preview')

  const ran = await runImport(client, shown.body)
  t.equal(ran.statusCode, 303)
  t.match((await client.get('/admin/developers')).body, /Import done: 2 accounts created/)
  const after = await accounts(app)
  t.same(after.find((a) => a.email === 'two@example.com'), { email: 'two@example.com', firstName: 'Two, Jr.', lastName: 'Per"son', state: 'active', groups: ['Beta Testers', 'Developers', 'Partners'] })
  const mails = await app.db('outbox_emails').where('template', 'account-created').pluck('to_address')
  t.same(mails.sort(), ['one@example.com', 'two@example.com'], 'a password-set link is mailed')
  t.equal((await app.db('developers').where('email', 'one@example.com').first()).password_hash, null, 'no password from the file')
  t.equal((await app.db('audit_events').where('action', 'developer.created').count({ n: '*' }).first().then((r) => Number(r?.n))), 2)

  t.match((await client.get('/admin/developers')).body, /Developers/)
  const again = await runImport(client, shown.body)
  t.equal(again.statusCode, 303)
  t.match((await client.get('/admin/developers')).body, /already run/)
  const second = await preview(client, csv, 'create')
  t.match(second.body, /<strong>0<\/strong> will be created/)
  t.match(second.body, /nothing to import/)
  t.same(await accounts(app), after, 'the same file again changes nothing')
})

t.test('import in invite mode; bulk invite by paste', async (t) => {
  const { app, client } = await setup(t)
  const shown = await preview(client, 'Email,First Name,Last Name\nin@example.com,In,Vited\n', 'invite')
  t.match(shown.body, /<strong>1<\/strong> will be invited/)
  await runImport(client, shown.body)
  t.same(await app.db('developers').where('email', 'in@example.com').pluck('state'), ['pending'])
  t.same(await app.db('outbox_emails').where('to_address', 'in@example.com').pluck('template'), ['invitation'])
  const rerun = await preview(client, 'Email,First Name,Last Name\nin@example.com,In,Vited\n', 'invite')
  t.match(rerun.body, /invited, not yet accepted/, 'a pending invitation is not sent again')

  await client.get('/admin/invitations/new')
  const pasted = await client.post('/admin/invitations', { emails: 'Jane Doe <jane@example.com>\nbob.smith@example.com\n\nnot an address\nin@example.com\n' + ADMIN.email + '\nJANE@example.com' })
  t.equal(pasted.statusCode, 200)
  t.match(pasted.body, /jane@example.com[\s\S]*Invited/)
  t.match(pasted.body, /not an address[\s\S]*Enter an email address/)
  t.match(pasted.body, /in@example.com[\s\S]*new link sent/)
  t.match(pasted.body, /already exists \(active\)/)
  t.match(pasted.body, /listed more than once/)
  const jane = await app.db('developers').where('email', 'jane@example.com').first()
  t.same([jane.first_name, jane.last_name, jane.state], ['Jane', 'Doe', 'pending'])
  const bob = await app.db('developers').where('email', 'bob.smith@example.com').first()
  t.same([bob.first_name, bob.last_name], ['Bob', 'Smith'], 'a name from the address when none is given')
  const empty = await client.post('/admin/invitations', { emails: '\n \n' })
  t.equal(empty.statusCode, 400)
  t.match(empty.body, /Enter at least one/)
})

t.test('malformed files get a clear message beside the field, never a 5xx', async (t) => {
  const { client } = await setup(t)
  const cases: Array<[string, string | Buffer, RegExp]> = [
    ['wrong header', 'mail,name\nx@example.com,X\n', /header line lacks email, firstName, lastName/],
    ['bad emails only', 'email,firstName,lastName\nnope,A,B\n', /<strong>1<\/strong> is invalid/],
    ['UTF-16', Buffer.concat([Buffer.from([0xFF, 0xFE]), Buffer.from('email,firstName,lastName\r\n', 'utf16le')]), /UTF-16/],
    ['not UTF-8', Buffer.from([0x65, 0x6d, 0xC3, 0x28, 0x0a]), /not UTF-8/],
    ['a NUL byte past the first 4 KB', 'email,firstName,lastName\n' + 'a@example.com,A,B\n'.repeat(400) + 'b@example.com,B\u0000,C\n', /UTF-16 \(or binary\)/],
    ['unclosed quote', 'email,firstName,lastName\n"a@example.com,A,B\n', /could not be read as CSV/],
    ['ragged rows', 'email,firstName,lastName\na@example.com,A\n', /could not be read as CSV \(line 2\)/],
    ['empty', '', /The file is empty/],
    ['header only', 'email,firstName,lastName\n', /no accounts/]
  ]
  for (const [name, content, message] of cases) {
    const res = await preview(client, content)
    t.ok(res.statusCode < 500, `${name}: ${res.statusCode}`)
    t.match(res.body, message, name)
  }
  const junk = Buffer.alloc(10 * 1024 * 1024)
  for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + (i >> 7)) % 256
  const big = await preview(client, junk)
  t.equal(big.statusCode, 400, '10 MB of junk: 400')
  t.match(big.body, /UTF-16 \(or binary\)/)
  const text = await preview(client, 'x'.repeat(10 * 1024 * 1024 - 10) + '\n')
  t.equal(text.statusCode, 400)
  t.match(text.body, /could not be read as CSV|header line lacks/)
  const none = await client.postMultipart('/admin/developers/import', { mode: 'invite' })
  t.equal(none.statusCode, 400)
  t.match(none.body, /The file is empty/)
  const stale = await client.post('/admin/developers/import', { importId: '99999' })
  t.equal(stale.statusCode, 404)
})

t.test('round trip: an export imported on a fresh instance gives the same accounts', async (t) => {
  const first = await setup(t)
  const actor = { id: first.admin.id, label: first.admin.email, ip: null }
  const partners = await first.app.services.groups.createGroup({ name: 'Partners', description: '' }, actor)
  for (let i = 0; i < 30; i++) {
    await first.app.services.accounts.createAccount({ firstName: `Dev ${i}`, lastName: i % 3 === 0 ? 'Comma, Name' : 'Plain', email: `rt${i}@example.com`, password: 'a long and quiet river bend' }, i % 2 === 0 ? [partners.id] : [], actor)
  }
  const exported = await first.client.get('/admin/developers.csv')
  const second = await setup(t)
  const shown = await preview(second.client, exported.body, 'create')
  t.match(shown.body, /<strong>30<\/strong> will be created/)
  await runImport(second.client, shown.body)
  const strip = (list: Awaited<ReturnType<typeof accounts>>) => list.filter((a) => a.email !== ADMIN.email)
  t.same(strip(await accounts(second.app)), strip(await accounts(first.app)))
})

t.test('round trip of defused values: =SUM(A1), +1, @x, -2 and Zoë Ångström come back unchanged, kept as text', async (t) => {
  const first = await setup(t)
  const actor = { id: first.admin.id, label: first.admin.email, ip: null }
  const people = [
    { firstName: '=SUM(A1)', lastName: '+1', email: 'formula@example.com' },
    { firstName: '@x', lastName: '-2', email: 'signs@example.com' },
    { firstName: 'Zoë', lastName: 'Ångström', email: 'zoe@example.com' },
    { firstName: "'quoted", lastName: "O'Brien", email: 'quote@example.com' }
  ]
  for (const p of people) await first.app.services.accounts.createAccount({ ...p, password: 'a long and quiet river bend' }, [], actor)
  const exported = await first.client.get('/admin/developers.csv?sort=email')
  t.match(exported.body, /"'=SUM\(A1\)","'\+1"/, 'defused in the file')
  t.match(exported.body, /"'@x","'-2"/)
  t.match(exported.body, /"'quoted","O'Brien"/, 'a quote mark before anything else is the value itself')
  const second = await setup(t)
  const shown = await preview(second.client, exported.rawPayload, 'create')
  t.match(shown.body, /<strong>4<\/strong> will be created/)
  await runImport(second.client, shown.body)
  const imported = await accounts(second.app)
  for (const p of people) {
    t.match(imported.find((a) => a.email === p.email), { firstName: p.firstName, lastName: p.lastName }, `${p.email}: ${p.firstName} ${p.lastName}`)
  }
  // Shown as text on the pages, and defused again on the next export.
  const list = await second.client.get('/admin/developers?q=formula')
  t.match(list.body, /=SUM\(A1\) \+1/)
  t.match((await second.client.get('/admin/developers.csv?q=formula')).body, /"'=SUM\(A1\)","'\+1"/)
})

t.test('an import never makes administrators: such a row is refused with its line, counted past the first 500; Guests too', async (t) => {
  const { app, client } = await setup(t)
  const lines = ['email,firstName,lastName,groups']
  for (let i = 0; i < 600; i++) lines.push(`person${i}@example.com,Person,Number ${i},`)
  lines.push('boss@example.com,Big,Boss,Partners; administrators', 'boss2@example.com,Big,Boss,\u0410dministrators', 'guest@example.com,Gu,Est,guests')
  const csv = lines.join('\n') + '\n'
  for (const mode of ['create', 'invite']) {
    const shown = await preview(client, csv, mode)
    t.match(shown.body, /<strong>3<\/strong> are invalid/, `${mode}: the three rows are counted among the invalid, past line 500`)
    t.match(shown.body, /<td data-label="Line">602<\/td>[\s\S]*?An import never makes administrators: add them one by one, on their page\./, `${mode}: line 602 says why`)
    t.match(shown.body, /<td data-label="Line">603<\/td>[\s\S]*?An import never makes administrators/, `${mode}: a look-alike of Administrators is Administrators`)
    t.match(shown.body, /<td data-label="Line">604<\/td>[\s\S]*?Guests stands for signed-out visitors and takes no members/)
    t.notMatch(shown.body, /will be created: [^<]*Partners/, 'no group is created for a refused row')
  }
  const shown = await preview(client, csv, 'create')
  await runImport(client, shown.body)
  t.equal(await countOf(app.db('developers').whereIn('email', ['boss@example.com', 'boss2@example.com', 'guest@example.com'])), 0, 'none of them was imported')
  const admins = await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').where('groups.system_key', 'administrators').count({ n: '*' }).first()
  t.equal(Number(admins?.n), 1, 'Administrators still holds only Ada')
  t.equal(await countOf(app.db('developers').where('email', 'like', 'person%')), 600)
  t.equal(await countOf(app.db('outbox_emails').where('template', 'account-created')), 600, 'each mailed a link to choose a password')
})

t.test('an import is its creator\'s: another administrator can neither run it nor follow it', async (t) => {
  const { app, admin, client } = await setup(t)
  const actor = { id: admin.id, label: admin.email, ip: null }
  const other = { email: 'bo@example.com', password: 'another long passphrase here' }
  await app.services.accounts.createAccount({ firstName: 'Bo', lastName: 'Boss', ...other }, [1], actor)
  const bo = await signedInClient(app, other)
  const shown = await preview(client, 'email,firstName,lastName\nmine@example.com,Mine,Only\n', 'invite')
  const id = /name="importId" value="(\d+)"/.exec(shown.body)?.[1] ?? ''
  await bo.get('/admin/developers/import')
  const stolen = await bo.post('/admin/developers/import', { importId: id })
  t.equal(stolen.statusCode, 404, 'another administrator\'s run: 404')
  t.equal(await countOf(app.db('developers').where('email', 'mine@example.com')), 0, 'and nothing was done')
  t.equal((await client.post('/admin/developers/import', { importId: id })).statusCode, 303, 'its creator runs it')
  t.equal((await bo.get(`/admin/developers/import/${id}`)).statusCode, 404, 'nor can the other follow it')
  const page = await client.get(`/admin/developers/import/${id}`)
  t.equal(page.statusCode, 200)
  t.match(page.body, /Import done: 0 accounts created .*, 1 invited, 0 skipped\./)
})

t.test('invite mode: the preview says the groups column is not applied, and names no group to create', async (t) => {
  const { client } = await setup(t)
  const shown = await preview(client, 'email,firstName,lastName,groups\nin@example.com,In,Vited,New Team\n', 'invite')
  t.match(shown.body, /The groups column is not applied to invitations/)
  t.match(shown.body, /<td data-label="Groups"><span class="muted">not applied<\/span><\/td>/)
  t.notMatch(shown.body, /will be created: New Team/)
})

t.test('a run that stopped halfway (its instance closed) is resumed from its page, and finishes with each row once', async (t) => {
  const clock = new TestClock()
  const config = await makeConfig(t)
  let app = await buildApp(config, { clock })
  const admin = await createAdmin(app)
  const actor = { id: admin.id, label: admin.email, ip: null }
  const lines = ['email,firstName,lastName']
  for (let i = 0; i < 3000; i++) lines.push(`r${i}@example.com,R,Number ${i}`)
  const file = Buffer.from(lines.join('\n'))
  const previewed = await app.services.csvImport.preview(file, 'f', 'invite', actor)
  const { run } = await app.services.csvImport.start(previewed.id ?? 0, actor)
  if (run === null) throw new Error('the run did not start')
  // Close as soon as the first slice is written: the run stops after its current slice.
  while (Number((await app.db('csv_imports').where('id', previewed.id).first('done_rows')).done_rows) === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  await app.close()
  await run
  const halfway = Number((await knexOf(config)('csv_imports').where('id', previewed.id).first('done_rows')).done_rows)
  t.ok(halfway > 0 && halfway < 3000, `stopped after ${halfway} of 3000 lines`)

  app = await buildApp(config, { clock })
  t.teardown(async () => await app.close())
  const client = await signedInClient(app, ADMIN)
  const page = await client.get(`/admin/developers/import/${previewed.id}`)
  t.match(page.body, new RegExp(`<strong>${halfway.toLocaleString('en-GB')}</strong> of 3,000 lines done`))
  t.match(page.body, /Reload this page/, 'a minute has not passed: it is taken as running')
  clock.advance(61_000)
  const stalled = await client.get(`/admin/developers/import/${previewed.id}`)
  t.match(stalled.body, /has not moved for a minute/)
  t.match(stalled.body, /Resume the import/)
  const resumed = await client.post('/admin/developers/import', { importId: String(previewed.id) })
  t.equal(resumed.statusCode, 303)
  const done = await client.get(`/admin/developers/import/${previewed.id}`)
  t.match(done.body, /Import done: 0 accounts created .*, 3000 invited, 0 skipped\./)
  t.equal(await countOf(app.db('developers').where('state', 'pending')), 3000, 'every row once')
  t.equal(await countOf(app.db('outbox_emails').where('template', 'invitation')), 3000, 'one invitation each')
})

t.test('a run that stalled and is taken over by another instance stops at its next slice; the other finishes; each row once', async (t) => {
  const clock = new TestClock()
  const config = await makeConfig(t)
  const first = await buildApp(config, { clock })
  t.teardown(async () => await first.close())
  const admin = await createAdmin(first)
  const actor = { id: admin.id, label: admin.email, ip: null }
  const lines = ['email,firstName,lastName']
  for (let i = 0; i < 4000; i++) lines.push(`t${i}@example.com,T,Number ${i}`)
  const previewed = await first.services.csvImport.preview(Buffer.from(lines.join('\n')), 'f', 'invite', actor)
  const second = await buildApp(config, { clock })
  t.teardown(async () => await second.close())
  const { run } = await first.services.csvImport.start(previewed.id ?? 0, actor)
  if (run === null) throw new Error('the run did not start')
  // Another instance claims the run as if the first had stalled: a new run token. (Written through
  // the first instance's own connections, so on SQLite it lands between two of its slices.)
  while (Number((await first.db('csv_imports').where('id', previewed.id).first('done_rows')).done_rows) === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  await first.db('csv_imports').where('id', previewed.id).update({ run_token: 'another instance', heartbeat_at: '2000-01-01T00:00:00.000Z' })
  t.same(await run, { created: 0, invited: 0, skipped: 0, alreadyRun: true }, 'the first run stops at its next slice, which is rolled back')
  const stopped = Number((await first.db('csv_imports').where('id', previewed.id).first('done_rows')).done_rows)
  t.ok(stopped > 0 && stopped < 4000, `it had done ${stopped} lines`)
  // That other instance "stalled" too (its heartbeat is old): the second takes over and finishes.
  const taken = await second.services.csvImport.start(previewed.id ?? 0, actor)
  t.ok(taken.run !== null, 'the second instance claims the stalled run')
  const result = await taken.run
  t.equal(result?.invited, 4000, 'and finishes, counting every row once')
  t.equal(await countOf(second.db('developers').where('state', 'pending')), 4000)
  t.equal(await countOf(second.db('outbox_emails').where('template', 'invitation')), 4000, 'one invitation each')
})
