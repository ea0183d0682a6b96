import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, countOf, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { LIBRARY_JSON, LIBRARY_YAML, PETS_YAML, bigDocument } from '../../fixtures/openapi'

/** The API's document as imported (kept with its current reference revision). */
async function documentOf (app: FastifyInstance, apiId: number): Promise<string | null> {
  const row = await app.db('api_revisions').join('apis', 'apis.reference_revision', 'api_revisions.id').where('apis.id', apiId).first('api_revisions.document')
  return row?.document ?? null
}

async function setup (t: Test, env: Record<string, string> = {}): Promise<{ app: FastifyInstance, admin: Client }> {
  const app = await makeApp(t, env)
  await createAdmin(app)
  return { app, admin: await signedInClient(app, ADMIN) }
}

const WEATHER = { name: 'Weather', path: 'weather', serviceUrl: 'https://backend.example.com/weather', description: 'Forecasts.' }

t.test('an administrator adds an API with a pasted YAML document; it is validated, kept as imported, audited', async (t) => {
  const { app, admin } = await setup(t)
  t.equal((await admin.get('/admin/apis')).statusCode, 200)
  t.match((await admin.get('/admin/apis')).body, /No APIs yet/)
  const form = await admin.get('/admin/apis/new')
  t.match(form.body, /enctype="multipart\/form-data"/)
  t.match(form.body, /name="openapiFile" type="file"/)

  const res = await admin.post('/admin/apis', { ...WEATHER, openapi: PETS_YAML })
  t.equal(res.statusCode, 303)
  const row = await app.db('apis').where('path', 'weather').first()
  t.equal(res.headers.location, `/admin/apis/${row.id as number}`)
  t.equal(await documentOf(app, row.id), PETS_YAML)
  t.equal(row.openapi_format, 'yaml')
  t.ok(await app.db('audit_events').where({ action: 'api.created', target_id: row.id }).first())
  const page = await admin.get(`/admin/apis/${row.id as number}`)
  t.match(page.body, /The API Weather was added/)
  t.match(page.body, /http:\/\/localhost:3000\/gateway\/weather/)
  const download = await admin.get(`/admin/apis/${row.id as number}/openapi`)
  t.equal(download.body, PETS_YAML)
  t.match(download.headers['content-type'], /application\/yaml/)
  t.match(download.headers['content-disposition'], /attachment; filename="weather-openapi\.yaml"/)
  // Its reference as developers will see it, before it is in any product.
  const reference = await admin.get(`/admin/apis/${row.id as number}/reference`)
  t.match(reference.body, /<dt>Base URL<\/dt><dd class="break"><code>http:\/\/localhost:3000\/gateway\/weather<\/code>/)
  t.match(reference.body, new RegExp(`<a href="/admin/apis/${row.id as number}/reference/tags/default">default</a> <span class="muted">\\(1 operation\\)</span>`))
  const tag = await admin.get(`/admin/apis/${row.id as number}/reference/tags/default`)
  t.match(tag.body, /<span class="method method-get">GET<\/span> <code class="break">\/pets<\/code><\/a> <span class="summary">List pets<\/span>/)
  t.equal(await countOf(app.db('api_operations').where('revision', app.db('apis').where('id', row.id).select('reference_revision'))), 1, 'the operation stored on its own')
  t.equal(await countOf(app.db('api_schemas').where('revision', app.db('apis').where('id', row.id).select('reference_revision'))), 1)
  const list = await admin.get('/admin/apis')
  t.match(list.body, /<a href="\/admin\/apis\/\d+">Weather<\/a>/)
  t.match(list.body, /<code>\/weather<\/code>/)
})

t.test('the document can be uploaded as a file (multipart), JSON or YAML', async (t) => {
  const { app, admin } = await setup(t)
  await admin.get('/admin/apis/new')
  const res = await admin.postMultipart('/admin/apis', { ...WEATHER, openapi: '' }, { openapiFile: ['library.json', LIBRARY_JSON] })
  t.equal(res.statusCode, 303)
  const row = await app.db('apis').where('path', 'weather').first()
  t.equal(await documentOf(app, row.id), LIBRARY_JSON)
  t.equal(row.openapi_format, 'json')
  // A script may send the file under the contract's field name, `openapi`.
  const other = await admin.postMultipart('/admin/apis', { ...WEATHER, path: 'library' }, { openapi: ['library.yaml', LIBRARY_YAML] })
  t.equal(other.statusCode, 303)
  t.equal((await app.db('apis').where('path', 'library').first()).openapi_format, 'yaml')
})

t.test('bad input: messages beside the fields, 400, input kept; a taken path is 409', async (t) => {
  const { admin } = await setup(t)
  const bad = await admin.post('/admin/apis', { name: ' ', path: 'Weather/', serviceUrl: 'ftp://x', description: '', openapi: 'openapi: 3.1.0\ninfo:\n  title: x\n  version: "1"\npaths:\n  /b:\n    post:\n      responsez: {}\n' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Enter the API name/)
  t.match(bad.body, /Use lower-case letters, digits and hyphens/)
  t.match(bad.body, /must start with http:\/\/ or https:\/\//)
  t.match(bad.body, /<p class="error" id="openapi-error"><span class="visually-hidden">Error: <\/span>Line 8, at \/paths\/~1b\/post\/responsez: responsez is not expected to be here/)
  t.match(bad.body, /value="Weather\/"/, 'input kept')
  t.match(bad.body, /responsez: \{\}/, 'the document kept in the textarea')
  t.match(bad.body, /<title>Error: /)

  // An uploaded file that fails comes back as text to fix in place.
  await admin.get('/admin/apis/new')
  const badFile = await admin.postMultipart('/admin/apis', { ...WEATHER, openapi: '' }, { openapiFile: ['x.yaml', 'swagger: "2.0"\ninfo:\n  title: x\n'] })
  t.equal(badFile.statusCode, 400)
  t.match(badFile.body, /At the top level: paths is missing here/, 'a Swagger 2.0 document is validated as one, before it is converted')
  t.match(badFile.body, /swagger: &#34;2\.0&#34;|swagger: &quot;2\.0&quot;/)

  t.equal((await admin.post('/admin/apis', { ...WEATHER, openapi: '' })).statusCode, 303)
  const taken = await admin.post('/admin/apis', { ...WEATHER, name: 'Other', openapi: '' })
  t.equal(taken.statusCode, 409)
  t.match(taken.body, /Another API already uses this path/)
})

t.test('uploaded documents in other encodings, and NUL characters, get clear messages beside the field (400, on every engine)', async (t) => {
  const { app, admin } = await setup(t)
  await admin.get('/admin/apis/new')
  const upload = async (path: string, bytes: Buffer) => await admin.postMultipart('/admin/apis', { ...WEATHER, path, openapi: '' }, { openapiFile: ['doc.yaml', bytes] })

  const le = await upload('utf16le', Buffer.concat([Buffer.from([0xFF, 0xFE]), Buffer.from(PETS_YAML, 'utf16le')]))
  t.equal(le.statusCode, 303, 'UTF-16 with its byte-order mark (as Windows editors save) is read')
  t.equal(await documentOf(app, (await app.db('apis').where('path', 'utf16le').first()).id), PETS_YAML, 'and kept as its text')
  const be = Buffer.from(PETS_YAML, 'utf16le').swap16()
  t.equal((await upload('utf16be', Buffer.concat([Buffer.from([0xFE, 0xFF]), be]))).statusCode, 303, 'big-endian too')

  const cases: Array<[string, Buffer, RegExp]> = [
    ['no-bom', Buffer.from(PETS_YAML, 'utf16le'), /looks like UTF-16 text without a byte-order mark/],
    ['latin1', Buffer.from('openapi: 3.1.0\ninfo:\n  title: Caf\xe9\n', 'latin1'), /not UTF-8 text/],
    ['binary', Buffer.from([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0xC3, 0x28, 0xA0, 0xA1]), /not UTF-8 text/],
    ['raw-nul', Buffer.from(PETS_YAML.replace('title: Pets', 'title: Pets # \u0000')), /Line 3: the document contains a NUL character/],
    ['escaped-nul', Buffer.from(JSON.stringify({ ...JSON.parse(LIBRARY_JSON), info: { title: 'Lib\u0000', version: '1' } })), /holds a NUL character/],
    ['yaml-nul', Buffer.from(PETS_YAML.replace('title: Pets', 'title: "Pets\\0"')), /holds a NUL character/]
  ]
  for (const [path, bytes, message] of cases) {
    const res = await upload(path, bytes)
    t.equal(res.statusCode, 400, `${path}: 400`)
    t.match(res.body, /<p class="error" id="openapi-error">/, `${path}: beside the field`)
    t.match(res.body, message, `${path}: ${String(message)}`)
    t.match(res.body, /value="Weather"/, `${path}: the other fields kept`)
  }
  t.equal(await countOf(app.db('apis')), 2, 'nothing else was stored')
})

t.test('more than OPENAPI_MAX_MB gets 413 on the same form, the other fields kept, uploaded or pasted', async (t) => {
  const { app, admin } = await setup(t, { OPENAPI_MAX_MB: '2' })
  await admin.get('/admin/apis/new')
  t.match((await admin.get('/admin/apis/new')).body, /up to 2 MB/)
  const huge = `openapi: 3.1.0\n#${'x'.repeat(2 * 1024 * 1024 + 10)}\n`
  const uploaded = await admin.postMultipart('/admin/apis', { ...WEATHER, openapi: '' }, { openapiFile: ['big.yaml', huge] })
  t.equal(uploaded.statusCode, 413)
  t.match(uploaded.body, /<p class="error" id="openapi-error"><span class="visually-hidden">Error: <\/span>The OpenAPI document is larger than 2 MB, the most Portico accepts \(OPENAPI_MAX_MB\)\./)
  t.match(uploaded.body, /id="name" name="name" type="text" value="Weather"/, 'the other fields kept')
  t.match(uploaded.body, /Forecasts\./)
  await admin.get('/admin/apis/new')
  const pasted = await admin.post('/admin/apis', { ...WEATHER, openapi: huge })
  t.equal(pasted.statusCode, 413)
  t.match(pasted.body, /larger than 2 MB/)
  t.match(pasted.body, /id="path" name="path" type="text" value="weather"/)
  // Past even what a paste may take (three bytes a byte): the same form, empty, with the reason.
  const beyond = await admin.post('/admin/apis', { ...WEATHER, openapi: '%'.repeat(7 * 1024 * 1024) })
  t.equal(beyond.statusCode, 413)
  t.match(beyond.body, /<p class="error" id="openapi-error">[\s\S]*larger than 2 MB/)
  t.equal(await countOf(app.db('apis')), 0)
  // Other forms take no files at all.
  await admin.get('/admin/groups')
  const elsewhere = await admin.postMultipart('/admin/groups', { name: 'G', description: '' }, { file: ['a.txt', 'hello'] })
  t.equal(elsewhere.statusCode, 413)
})

t.test('edit keeps the document unless a new one is given or removal is ticked; delete after a confirmation', async (t) => {
  const { app, admin } = await setup(t)
  await admin.post('/admin/apis', { ...WEATHER, openapi: PETS_YAML })
  const id = (await app.db('apis').where('path', 'weather').first()).id as number
  const edit = await admin.post(`/admin/apis/${id}`, { ...WEATHER, name: 'Weather v2', path: 'weather/v2', openapi: '' })
  t.equal(edit.statusCode, 303)
  let row = await app.db('apis').where('id', id).first()
  t.equal(row.name, 'Weather v2')
  t.equal(row.path, 'weather/v2')
  t.equal(await documentOf(app, id), PETS_YAML, 'kept')
  const first = row.reference_revision as number
  await admin.post(`/admin/apis/${id}`, { ...WEATHER, openapi: LIBRARY_JSON })
  row = await app.db('apis').where('id', id).first()
  t.equal(row.openapi_format, 'json', 'replaced')
  t.not(row.reference_revision, first, 'drawn as a new revision')
  t.equal(await countOf(app.db('api_revisions')), 1, 'the replaced revision is gone')
  t.equal(await countOf(app.db('api_operations').where('revision', first)), 0, 'with its operations')
  await admin.post(`/admin/apis/${id}`, { ...WEATHER, openapi: '', removeOpenapi: 'on' })
  row = await app.db('apis').where('id', id).first()
  t.equal(await documentOf(app, id), null, 'removed')
  t.equal(await countOf(app.db('api_revisions')), 0, 'and its reference')
  t.equal((await admin.get(`/admin/apis/${id}/openapi`)).statusCode, 404)
  t.equal(await app.db('audit_events').where({ action: 'api.edited', target_id: id }).count({ n: '*' }).first().then((r) => Number(r?.n)), 3)

  const confirm = await admin.get(`/admin/apis/${id}/delete`)
  t.match(confirm.body, /Delete Weather\?/)
  const del = await admin.post(`/admin/apis/${id}/delete`)
  t.equal(del.statusCode, 303)
  t.equal(del.headers.location, '/admin/apis')
  t.equal(await app.db('apis').where('id', id).first(), undefined)
  t.ok(await app.db('audit_events').where({ action: 'api.deleted', target_id: id }).first())
  t.equal((await admin.get(`/admin/apis/${id}`)).statusCode, 404)
  t.equal((await admin.get('/admin/apis/abc')).statusCode, 404)
})

t.test('developers and visitors cannot reach the API pages; CSRF is checked on multipart forms too', async (t) => {
  const { app, admin } = await setup(t)
  await createDeveloper(app)
  const dev = await signedInClient(app, DEV)
  t.equal((await dev.get('/admin/apis')).statusCode, 403)
  t.equal((await dev.post('/admin/apis', { ...WEATHER, openapi: '' })).statusCode, 403)
  const visitor = new Client(app)
  t.equal((await visitor.get('/admin/apis/new')).statusCode, 303)
  await admin.get('/admin/apis/new')
  const forged = await admin.postMultipart('/admin/apis', { ...WEATHER, _csrf: 'forged' }, { openapiFile: ['p.yaml', PETS_YAML] })
  t.equal(forged.statusCode, 403)
  t.equal(await countOf(app.db('apis')), 0)
})

t.test('a document of several megabytes imports and its reference page renders', async (t) => {
  const { app, admin } = await setup(t)
  const big = bigDocument(100)
  t.ok(big.length > 3_000_000, `${(big.length / 1e6).toFixed(1)} MB`)
  await admin.get('/admin/apis/new')
  const res = await admin.postMultipart('/admin/apis', { ...WEATHER, openapi: '' }, { openapiFile: ['big.json', big] })
  t.equal(res.statusCode, 303)
  const id = (await app.db('apis').where('path', 'weather').first()).id as number
  // A tag's operations, 50 a page; each operation on a page of its own.
  const overview = await admin.get(`/admin/apis/${id}/reference`)
  t.match(overview.body, new RegExp(`<a href="/admin/apis/${id}/reference/tags/Books">Books</a> <span class="muted">\\(600 operations\\)</span>`))
  const first = await admin.get(`/admin/apis/${id}/reference/tags/Books`)
  t.equal(first.body.match(/<li><a href="\/admin\/apis\/\d+\/reference\/operations\//g)?.length, 50)
  t.match(first.body, new RegExp(`<a href="/admin/apis/${id}/reference/tags/Books\\?page=2" rel="next">`))
  const last = await admin.get(`/admin/apis/${id}/reference/tags/Books?page=12`)
  t.equal(last.statusCode, 200)
  t.match(last.body, /<title>Books · Weather \(page 12 of 12\)/)
  t.match(last.body, /href="\/admin\/apis\/\d+\/reference\/operations\/searchBooksV99"/)
  t.equal((await admin.get(`/admin/apis/${id}/reference/operations/getBookV42`)).statusCode, 200)
  const portal = await new Client(app).get(`/apis/${id}`)
  t.equal(portal.statusCode, 404, 'not in any product: not shown in the portal')
})
