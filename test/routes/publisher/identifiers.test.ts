import t from 'tap'
import { ADMIN, countOf, createAdmin, makeApp, signedInClient } from '../../helpers'
import { migrationSource } from '../../../src/db/migration-source'

// DESIGN's identifier rule: emails, names and group names in NFC; control, zero-width and
// text-direction characters refused; email domains in ASCII; look-alikes of an existing email or
// group name (full-width letters, another normalisation form, Cyrillic or Greek letters drawn like
// Latin ones) are conflicts. Through the pages and the management API alike.

const PASSWORD = 'a long and quiet river bend'

t.test('look-alike emails and group names are refused, through the pages and the API', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app) // ada@example.com
  const admin = await signedInClient(app, ADMIN)
  await admin.get('/admin/developers/new')
  const add = async (email: string, firstName = 'Look', lastName = 'Alike') => await admin.post('/admin/developers', { firstName, lastName, email, password: PASSWORD })
  t.equal((await add('rené@example.com')).statusCode, 303, 'a real accented address is fine')

  for (const [email, why] of [
    ['ａda@example.com', 'full-width a'],
    ['\u0430da@example.com', 'Cyrillic а'],
    ['ADA@EXAMPLE.COM', 'another case'],
    ['rene\u0301@example.com', 'é decomposed (NFD)'],
    ['αda@example.com', 'Greek α']
  ]) {
    const res = await add(email)
    t.equal(res.statusCode, 409, `${why}: a conflict with the existing address`)
    t.match(res.body, /An account with this email address already exists/)
  }
  for (const [email, message, why] of [
    ['a\u200bda@example.com', /characters that are not allowed/, 'a zero-width space'],
    ['ad\u202ea@example.com', /characters that are not allowed/, 'a right-to-left override'],
    ['ada@ex\u0430mple.com', /Write the domain in its ASCII form: ada@xn--exmple-4nf\.com/, 'a Cyrillic letter in the domain'],
    ['bob@bücher.example', /Write the domain in its ASCII form: bob@xn--bcher-kva\.example/, 'an international domain, not in its xn-- form']
  ] as const) {
    const res = await add(email)
    t.equal(res.statusCode, 400, `${why}: 400`)
    t.match(res.body, message, why)
  }
  t.equal((await add('bob@xn--bcher-kva.example')).statusCode, 303, 'the xn-- form is fine')
  const bidiName = await add('carol@example.com', 'Car\u202eol')
  t.equal(bidiName.statusCode, 400, 'a name with a text-direction control')
  t.match(bidiName.body, /The first name contains characters that are not allowed/)
  const decomposed = await add('zoe@example.com', 'Zoe\u0308')
  t.equal(decomposed.statusCode, 303)
  t.equal((await app.db('developers').where('email', 'zoe@example.com').first('first_name')).first_name, 'Zoë', 'names are kept in NFC')

  const invite = await admin.post('/admin/invitations', { firstName: 'Ada', lastName: 'Again', email: '\u0430da@example.com' })
  t.equal(invite.statusCode, 409, 'an invitation to a look-alike address is refused too')

  await admin.get('/admin/groups')
  t.equal((await admin.post('/admin/groups', { name: 'Partners', description: '' })).statusCode, 303)
  t.equal((await admin.post('/admin/groups', { name: 'Café', description: '' })).statusCode, 303)
  for (const [name, why] of [
    ['\u0410dministrators', 'Cyrillic А: the system group\'s name'],
    ['Ａdministrators', 'full-width A'],
    ['Ρartners', 'Greek Ρ'],
    ['Cafe\u0301', 'é decomposed']
  ]) {
    const res = await admin.post('/admin/groups', { name, description: '' })
    t.equal(res.statusCode, 409, `${why}: 409`)
    t.match(res.body, /A group with this name already exists/)
  }
  for (const name of ['Part\u200bners', 'Par\u202etners', 'Part\ufeffners']) {
    const res = await admin.post('/admin/groups', { name, description: '' })
    t.equal(res.statusCode, 400, `${JSON.stringify(name)}: 400`)
    t.match(res.body, /The group name contains characters that are not allowed/)
  }

  // The management API, the same rules.
  await admin.get('/admin/api-tokens')
  const token = /<code>(ptk_[A-Za-z0-9_-]+)<\/code>/.exec((await admin.post('/admin/api-tokens', { name: 'ids', expiresInDays: '' })).body)?.[1] ?? ''
  const api = async (url: string, payload: object) => {
    const res = await app.inject({ method: 'POST', url, payload, headers: { authorization: `Bearer ${token}` } })
    return { status: res.statusCode, body: JSON.parse(res.body) as { fields?: Record<string, string> } }
  }
  t.equal((await api('/api/v1/users', { email: 'ａda@example.com', firstName: 'A', lastName: 'B', password: PASSWORD })).status, 409)
  t.equal((await api('/api/v1/users', { email: 'ada@ex\u0430mple.com', firstName: 'A', lastName: 'B', password: PASSWORD })).status, 400)
  t.equal((await api('/api/v1/groups', { name: '\u0410dministrators' })).status, 409)
  t.match((await api('/api/v1/groups', { name: 'Part\u200bners' })).body.fields?.name, /not allowed/)

  t.equal(await countOf(app.db('developers')), 4, 'only the real accounts: Ada, René, Bob and Zoë')
  t.equal(await countOf(app.db('groups').whereNull('system_key')), 2, 'only the real groups')
})

t.test('keys made before the rule are brought in line by the migration, a clash left as it was', async (t) => {
  const app = await makeApp(t)
  const now = new Date().toISOString()
  const row = (email: string, key: string) => ({ email, email_normalized: key, first_name: 'Old', last_name: 'Row', name_normalized: 'old row', state: 'active', created_at: now, updated_at: now })
  await app.db('developers').insert([row('ａlice@example.com', 'ａlice@example.com'), row('\u0431ob@example.com', '\u0431ob@example.com'), row('carl@example.com', 'carl@example.com'), row('\u0441arl@example.com', '\u0441arl@example.com')])
  await app.db.migrate.down({ migrationSource, name: '20261202110000_identifier_keys' })
  await app.db.migrate.latest({ migrationSource })
  const keys = await app.db('developers').orderBy('id').pluck('email_normalized')
  t.same(keys, ['alice@example.com', '\u0431ob@example.com', 'carl@example.com', '\u0441arl@example.com'], 'full-width folded; б is no look-alike; the Cyrillic с of a clash kept its old key')
})
