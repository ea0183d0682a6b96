import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { parse as parseYaml } from 'yaml'
import { validate } from '@readme/openapi-parser'
import type { FastifyInstance } from 'fastify'
import { Client, DEV, countOf, createAdmin, createDeveloper, makeApp, signedInClient, ADMIN } from '../../helpers'
import { LIBRARY_JSON, PETSTORE_JSON, PETSTORE_SWAGGER2 } from '../../fixtures/openapi'
import { startBackend, SYSTEM } from '../../fixtures/gateway'
import { productFor } from '../../fixtures/catalog'
import { freePort } from '../../smtp'

const run = promisify(execFile)
const OTHER = { firstName: 'Other', lastName: 'Developer', email: 'other@example.com', password: 'a wide and gentle meadow' }

/** HTML text back to what a reader copies from the page. */
function unescape (html: string): string {
  return html.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')
}

function sample (page: string, heading: string): string {
  const match = new RegExp(`<h3>${heading}</h3>\\s*<pre class="sample"[^>]*><code>([\\s\\S]*?)</code></pre>`).exec(page)
  if (match === null) throw new Error(`no ${heading} sample`)
  return unescape(match[1])
}

/**
 * One app for the file, listening (the curl samples are run against it): the Petstore behind a
 * recording backend, the Library, a second API on another backend, a Swagger 2.0 import; two
 * developers with their own subscriptions.
 */
async function setup () {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const app = await makeApp(t, { PUBLIC_URL: base, TRY_PER_MINUTE: '12', OPENAPI_MAX_MB: '1' })
  await app.listen({ port, host: '127.0.0.1' })
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const other = await createDeveloper(app, OTHER)
  const backend = await startBackend(t)
  const elsewhere = await startBackend(t)
  const { apis, subscriptions } = app.services
  const petstore = await apis.createApi({ name: 'Petstore', path: 'petstore', serviceUrl: `${backend.url}/api/v3`, description: '', openapi: PETSTORE_JSON }, SYSTEM)
  const library = await apis.createApi({ name: 'Library', path: 'library', serviceUrl: `${elsewhere.url}/library`, description: 'Books and loans.', openapi: LIBRARY_JSON }, SYSTEM)
  const classic = await apis.createApi({ name: 'Classic pets', path: 'classic', serviceUrl: `${backend.url}/v2`, description: '', openapi: PETSTORE_SWAGGER2 }, SYSTEM)
  const product = await productFor(app, SYSTEM, { name: 'Pets' }, [petstore.id, library.id, classic.id])
  const mine = await subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: 'My app' }, SYSTEM)
  const theirs = await subscriptions.subscribeOnBehalf(other.id, { productId: product.id, displayName: 'Their app' }, SYSTEM)
  const [myKey] = (await subscriptions.callingSubscriptions(dev.id, petstore.id)).map((s) => s.primaryKey)
  return { app, base, backend, elsewhere, petstore, library, classic, product, mine, theirs, myKey, dev, other }
}

const fixture = setup()

async function developer (app: FastifyInstance, who = DEV): Promise<Client> {
  return await signedInClient(app, who)
}

t.test('the overview: Markdown drawn safely, how to authenticate, tags, downloads', async (t) => {
  const { app, petstore } = await fixture
  const missing = await new Client(app).get(`/apis/${petstore.id}`)
  t.equal(missing.statusCode, 404, 'shown to Developers only')
  t.match(missing.body, /There is no such API, or it is not shown to you/)
  const page = await (await developer(app)).get(`/apis/${petstore.id}`)
  t.equal(page.statusCode, 200)
  const body = page.body
  t.notMatch(body, /<script/i)
  t.match(body, /<code>openapi\.yaml<\/code>/, 'a code span')
  t.match(body, /<a href="https:\/\/github\.com\/swagger-api\/swagger-petstore" rel="noopener noreferrer nofollow">The Pet Store repository<\/a>/, 'a link')
  t.match(body, /<table>\s*<thead>\s*<tr>\s*<th>Tag<\/th>/, 'a table')
  t.match(body, /<blockquote class="md-alert md-alert-note">\s*<p><strong class="md-alert-title">Note<\/strong> Pets are examples only\.<\/p>/, 'an alert')
  t.match(body, /&lt;script&gt;alert\('x'\)&lt;\/script&gt;/, 'raw HTML is shown as text')
  t.notMatch(body, /href="javascript:/i, 'a javascript: link is not a link')
  t.match(body, /<h2 id="authenticate">How to authenticate<\/h2>/)
  t.match(body, /in the header <code>Ocp-Apim-Subscription-Key<\/code> \(or the query parameter <code>subscription-key<\/code>\)/)
  t.match(body, /<code>api_key<\/code> — API key<\/dt>\s*<dd>\s*<p>Send it in the header header <code>api_key<\/code>|<code>api_key<\/code> — API key/)
  t.match(body, /<code>petstore_auth<\/code> — OAuth 2\.0/)
  t.match(body, /authorise at <code class="break">https:\/\/petstore3\.swagger\.io\/oauth\/authorize<\/code>/)
  t.match(body, new RegExp(`<a href="/apis/${petstore.id}/tags/pet">pet</a> <span class="muted">\\(4 operations\\)</span>`))
  t.match(body, new RegExp(`href="/apis/${petstore.id}/openapi.json"`))
  t.match(body, new RegExp(`href="/apis/${petstore.id}/openapi"`))
  t.match(page.headers['content-type'], /text\/html/)
})

t.test('every operation and schema is reached by links from the overview; no page over 1 MB; pages compressed', async (t) => {
  const { app, petstore, library } = await fixture
  const client = await developer(app)
  for (const api of [petstore, library]) {
    const base = `/apis/${api.id}`
    const seen = new Set<string>([base])
    const queue = [base]
    let largest = 0
    while (queue.length > 0) {
      const url = queue.shift() as string
      const res = await client.get(url)
      t.equal(res.statusCode, 200, url)
      largest = Math.max(largest, Buffer.byteLength(res.body))
      for (const [, href] of res.body.matchAll(/href="([^"#]+)"/g)) {
        const target = href.replace(/&amp;/g, '&')
        if (target.startsWith(`${base}/`) && !/\/openapi/.test(target) && !seen.has(target)) { seen.add(target); queue.push(target) }
      }
    }
    const operations = await app.db('api_operations').where('revision', app.db('apis').where('id', api.id).select('reference_revision')).select('key') as Array<{ key: string }>
    const schemas = await app.db('api_schemas').where('revision', app.db('apis').where('id', api.id).select('reference_revision')).select('name') as Array<{ name: string }>
    t.ok(operations.length > 0 && schemas.length > 0)
    for (const { key } of operations) t.ok(seen.has(`${base}/operations/${encodeURIComponent(key)}`), `${api.name}: operation ${key} is linked`)
    for (const { name } of schemas) t.ok(seen.has(`${base}/schemas/${encodeURIComponent(name)}`), `${api.name}: schema ${name} is linked`)
    t.ok(largest < 1024 * 1024, `${api.name}: largest page ${largest} bytes`)
  }
  const compressed = await client.request({ method: 'GET', url: `/apis/${library.id}/operations/createBook`, headers: { 'accept-encoding': 'br, gzip' } })
  t.equal(compressed.headers['content-encoding'], 'br')
  const gzip = await client.request({ method: 'GET', url: `/apis/${library.id}/operations/createBook`, headers: { 'accept-encoding': 'gzip' } })
  t.equal(gzip.headers['content-encoding'], 'gzip')
})

t.test('an operation page: parameters, bodies, schemas three levels deep with links, examples, samples with the developer\'s key', async (t) => {
  const { app, library, petstore, myKey, mine } = await fixture
  const client = await developer(app)
  const page = await client.get(`/apis/${library.id}/operations/getBook`)
  t.equal(page.statusCode, 200)
  t.match(page.body, /<h1><span class="method method-get">GET<\/span> <code class="break">\/books\/\{bookId\}<\/code><\/h1>/)
  t.match(page.body, /<th scope="row"><code>bookId<\/code> <span class="required">required<\/span><\/th>\s*<td>path<\/td>/)
  t.match(page.body, new RegExp(`<a href="/apis/${library.id}/schemas/Book">schema Book</a>`))
  t.match(page.body, /<span class="status status-4">404<\/span>/)
  t.equal(page.headers['cache-control'], 'no-store', 'a signed-in page with a key')
  const pet = await client.get(`/apis/${petstore.id}/operations/getPetById`)
  const curl = sample(pet.body, 'curl')
  t.match(curl, `Ocp-Apim-Subscription-Key: ${myKey}`, 'the developer\'s own key')
  t.match(curl, /\/gateway\/petstore\/pet\/10'/, 'the path parameter from its example')
  t.match(curl, /-H 'api_key: YOUR_API_KEY'/, 'the document\'s own credential as a placeholder')
  t.match(sample(pet.body, 'JavaScript \\(fetch\\)'), `"Ocp-Apim-Subscription-Key": "${myKey}"`)
  t.match(sample(pet.body, 'Python \\(requests\\)'), /import requests[\s\S]*"GET",\n\s+"http:\/\/127\.0\.0\.1:\d+\/gateway\/petstore\/pet\/10"/)
  t.match(pet.body, new RegExp(`<option value="${mine.id}" selected>My app \\(Pets\\)</option>`))
  const keyless = await (await signedInClient(app, ADMIN)).get(`/apis/${petstore.id}/operations/getPetById`)
  t.match(sample(keyless.body, 'curl'), 'Ocp-Apim-Subscription-Key: YOUR_SUBSCRIPTION_KEY', 'no subscription: a placeholder')
  t.match(keyless.body, /you need an active subscription to a product with this API/)
})

t.test('the curl samples for findPetsByStatus and addPet run as pasted: the backend answers 200', async (t) => {
  const { app, petstore, backend, myKey } = await fixture
  const client = await developer(app)
  for (const [key, method, path] of [['findPetsByStatus', 'GET', '/api/v3/pet/findByStatus?status=available'], ['addPet', 'POST', '/api/v3/pet']] as const) {
    const curl = sample((await client.get(`/apis/${petstore.id}/operations/${key}`)).body, 'curl')
    const before = backend.seen.length
    const { stdout } = await run('bash', ['-c', `${curl} -s -o /dev/null -w '%{http_code}'`])
    t.equal(stdout, '200', `${key}: ${curl}`)
    const seen = backend.seen[before]
    t.equal(seen.method, method)
    t.equal(seen.url, path)
    t.equal(seen.headers['ocp-apim-subscription-key'], undefined, 'the key stays at the gateway')
    if (method === 'POST') {
      t.equal(seen.headers['content-type'], 'application/json')
      t.same(JSON.parse(seen.body), { id: 10, name: 'doggie', category: { id: 1, name: 'Dogs' }, photoUrls: ['string'], tags: [{ id: 0, name: 'string' }], status: 'available' })
    }
  }
  t.ok(myKey.length >= 32)
})

t.test('downloads: as imported, and for the gateway (valid, its server the gateway, the key required everywhere)', async (t) => {
  const { app, base, petstore, classic } = await fixture
  const client = await developer(app)
  const imported = await client.get(`/apis/${classic.id}/openapi`)
  t.equal(imported.body, PETSTORE_SWAGGER2, 'the Swagger 2.0 document as imported')
  t.match(imported.headers['content-type'], /application\/yaml/)
  for (const api of [petstore, classic]) {
    const json = await client.get(`/apis/${api.id}/openapi.json`)
    t.equal(json.statusCode, 200)
    const document = JSON.parse(json.body)
    t.same(document.servers, [{ url: `${base}/gateway/${api.path}`, description: 'The Portico gateway' }])
    t.same(document.components.securitySchemes.subscriptionKey, { type: 'apiKey', in: 'header', name: 'Ocp-Apim-Subscription-Key', description: 'Your Portico subscription key (primary or secondary).' })
    for (const item of Object.values(document.paths) as Array<Record<string, { security: Array<Record<string, string[]>> }>>) {
      for (const op of Object.values(item)) t.ok(op.security.every((r) => 'subscriptionKey' in r || 'subscriptionKeyQuery' in r))
    }
    const result = await validate(structuredClone(document))
    t.ok(result.valid, `${api.name}: the gateway document is valid`)
    const yaml = await client.get(`/apis/${api.id}/openapi.yaml`)
    t.same(parseYaml(yaml.body), document, 'the YAML says the same')
  }
  const converted = await client.get(`/apis/${classic.id}`)
  t.match(converted.body, /OpenAPI 3\.0\.0 \(imported as Swagger 2\.0\)/)
  t.match(converted.body, /The classic Petstore, in <strong>Swagger 2\.0<\/strong>\./)
})

t.test('search, within an API and across the catalog', async (t) => {
  const { app, library, petstore } = await fixture
  const client = await developer(app)
  const found = await client.get(`/apis/${library.id}/search?q=OPENING`)
  t.match(found.body, /1 operation match “OPENING”/)
  t.match(found.body, new RegExp(`href="/apis/${library.id}/operations/openingHours"`))
  const byTag = await client.get(`/apis/${library.id}/search?q=reviews`)
  t.match(byTag.body, /6 operations match/)
  t.match((await client.get(`/apis/${library.id}/search?q=nothing-like-this`)).body, /No operation matches/)
  t.match((await client.get(`/apis/${library.id}/search?q=%25`)).body, /No operation matches/, '% is a character, not a wildcard')
  const catalog = await client.get('/apis?q=findByStatus')
  t.match(catalog.body, /1 API match “findByStatus”/)
  t.match(catalog.body, new RegExp(`href="/apis/${petstore.id}"`))
  t.notMatch(catalog.body, new RegExp(`href="/apis/${library.id}"`))
  t.match((await client.get('/apis?q=loans')).body, new RegExp(`href="/apis/${library.id}"`), 'by description or tag')
})

t.test('try it: a GET with path and query parameters and a POST with a JSON body reach the backend exactly', async (t) => {
  const { app, petstore, backend, mine, myKey } = await fixture
  const client = await developer(app)
  await client.get(`/apis/${petstore.id}/operations/getPetById`)
  let before = backend.seen.length
  const got = await client.post(`/apis/${petstore.id}/operations/getPetById/try`, { subscription: String(mine.id), 'param.path.petId': '42' })
  t.equal(got.statusCode, 200)
  t.equal(backend.seen.length, before + 1)
  t.equal(backend.seen[before].url, '/api/v3/pet/42')
  t.equal(backend.seen[before].method, 'GET')
  t.match(got.body, /<span class="status status-2">200<\/span>/)
  t.match(got.body, /GET http:\/\/127\.0\.0\.1:\d+\/gateway\/petstore\/pet\/42\nOcp-Apim-Subscription-Key: ••••••••/)
  t.notMatch(got.body, new RegExp(myKey), 'the key is masked on the answer page')
  t.match(got.body, /&quot;url&quot;: &quot;\/api\/v3\/pet\/42&quot;/, 'the JSON answer, indented')
  t.equal(got.headers['cache-control'], 'no-store')

  await client.get(`/apis/${petstore.id}/operations/findPetsByStatus`)
  before = backend.seen.length
  await client.post(`/apis/${petstore.id}/operations/findPetsByStatus/try`, { subscription: String(mine.id), 'param.query.status': 'sold & pending' })
  t.equal(backend.seen[before].url, '/api/v3/pet/findByStatus?status=sold+%26+pending')

  await client.get(`/apis/${petstore.id}/operations/addPet`)
  before = backend.seen.length
  const body = '{"name":"Rex","photoUrls":[]}'
  const posted = await client.post(`/apis/${petstore.id}/operations/addPet/try`, { subscription: String(mine.id), contentType: 'application/json', body })
  t.equal(posted.statusCode, 200)
  const seen = backend.seen[before]
  t.equal(seen.method, 'POST')
  t.equal(seen.url, '/api/v3/pet')
  t.equal(seen.headers['content-type'], 'application/json')
  t.equal(seen.body, body)
  t.equal(seen.headers['ocp-apim-subscription-key'], undefined)
})

t.test('try it is refused: another developer\'s subscription, signed out, without CSRF, bad fields, past TRY_PER_MINUTE', async (t) => {
  const { app, petstore, backend, theirs, mine } = await fixture
  const client = await developer(app)
  await client.get(`/apis/${petstore.id}/operations/getPetById`)
  const before = backend.seen.length
  const stolen = await client.post(`/apis/${petstore.id}/operations/getPetById/try`, { subscription: String(theirs.id), 'param.path.petId': '1' })
  t.equal(stolen.statusCode, 400)
  t.match(stolen.body, /Choose one of your active subscriptions/)
  const signedOut = new Client(app)
  await signedOut.get(`/apis/${petstore.id}`)
  const out = await signedOut.post(`/apis/${petstore.id}/operations/getPetById/try`, { subscription: String(mine.id), 'param.path.petId': '1' })
  t.equal(out.statusCode, 303)
  t.match(out.headers.location, /^\/signin/)
  const noCsrf = await client.post(`/apis/${petstore.id}/operations/getPetById/try`, { _csrf: 'nope', subscription: String(mine.id), 'param.path.petId': '1' })
  t.equal(noCsrf.statusCode, 403)
  const missing = await client.post(`/apis/${petstore.id}/operations/getPetById/try`, { subscription: String(mine.id), 'param.path.petId': '' })
  t.equal(missing.statusCode, 400)
  t.match(missing.body, /<p class="error" id="try-p1-error"><span class="visually-hidden">Error: <\/span>Enter a value for petId/)
  t.equal(backend.seen.length, before, 'nothing reached the backend')
  t.equal((await client.post(`/apis/${petstore.id}/operations/nope/try`, { subscription: String(mine.id) })).statusCode, 404)

  // TRY_PER_MINUTE is 12 here: the earlier tests used some; the next ones run out.
  const statuses: number[] = []
  for (let i = 0; i < 13; i++) statuses.push((await client.post(`/apis/${petstore.id}/operations/getInventory/try`, { subscription: String(mine.id) })).statusCode)
  t.equal(statuses.at(-1), 429)
  t.ok(statuses.includes(200))
})

t.test('try it cannot leave the API: absolute URLs, dot segments, encoded slashes and CRLF stay inside its gateway path', async (t) => {
  const { app, library, elsewhere, backend, mine } = await fixture
  const client = await signedInClient(app, OTHER)
  const theirs = (await app.services.subscriptions.callingSubscriptions((await app.db('developers').where('email', OTHER.email).first()).id, library.id))[0]
  await client.get(`/apis/${library.id}/operations/getBook`)
  const otherBackend = backend.seen.length
  for (const value of ['..', '.']) {
    const before = elsewhere.seen.length
    const res = await client.post(`/apis/${library.id}/operations/getBook/try`, { subscription: String(theirs.id), 'param.path.bookId': value })
    t.equal(res.statusCode, 400, `${value} is refused beside its field`)
    t.match(res.body, /bookId cannot be &quot;\.&quot; or &quot;\.\.&quot;/)
    t.equal(elsewhere.seen.length, before)
  }
  for (const value of ['../../../petstore/pet/1', 'http://evil.example/x', '//evil.example', '%2F..%2Fpetstore', '%2E%2E', 'a/b?c=d#e', 'https:%2F%2Fevil.example', 'plain.value']) {
    const before = elsewhere.seen.length
    const res = await client.post(`/apis/${library.id}/operations/getBook/try`, { subscription: String(theirs.id), 'param.path.bookId': value })
    t.equal(res.statusCode, 200, value)
    const status = Number(/Answer: <span class="status status-\d">(\d+)<\/span>/.exec(res.body)?.[1])
    if (status === 400) {
      // The gateway refuses a path whose decoded segments climb ("..", "."): nothing was forwarded.
      t.equal(elsewhere.seen.length, before, `${value}: refused by the gateway, no backend reached`)
      continue
    }
    t.equal(elsewhere.seen.length, before + 1, `${value}: one call, to the Library's backend`)
    const url = elsewhere.seen[before].url
    t.match(url, /^\/library\/books\/[^/?#]+$/, `${value} → ${url}: one segment under /library/books`)
    t.equal(decodeURIComponent(url.slice('/library/books/'.length)), value, 'the value arrives as it was typed, encoded')
  }
  const crlf = await client.post(`/apis/${library.id}/operations/listBooks/try`, { subscription: String(theirs.id), 'param.header.X-Request-Id': 'a\r\nHost: evil.example' })
  t.equal(crlf.statusCode, 400)
  t.match(crlf.body, /A header value cannot hold line breaks/)
  const extra = await client.post(`/apis/${library.id}/operations/listBooks/try`, { subscription: String(theirs.id), 'param.query.url': 'http://evil.example', 'param.header.Host': 'evil.example' })
  t.equal(extra.statusCode, 200)
  t.notMatch(elsewhere.seen.at(-1)?.url ?? '', /evil/, 'undeclared parameters are not sent')
  t.equal(backend.seen.length, otherBackend, 'the Petstore\'s backend was never reached')
  t.ok(mine.id > 0)
})

t.test('refusals say where: a JSON Pointer, and the line when the text has line breaks; 413 keeps the other fields', async (t) => {
  const { app } = await fixture
  const admin = await signedInClient(app, ADMIN)
  await admin.get('/admin/apis/new')
  const bad = { openapi: '3.0.3', info: { title: 'x', version: '1' }, paths: { '/a': { get: { responses: { 200: { descriptio: 'x' } } } } } }
  const fields = { name: 'Bad', path: 'bad', serviceUrl: 'https://bad.example.com', description: 'Kept' }
  const minified = await admin.post('/admin/apis', { ...fields, openapi: JSON.stringify(bad) })
  t.equal(minified.statusCode, 400)
  t.match(minified.body, /At \/paths\/~1a\/get\/responses\/200: description is missing here\./)
  t.notMatch(minified.body, /Line 1/)
  const pretty = await admin.post('/admin/apis', { ...fields, openapi: JSON.stringify(bad, null, 2) })
  t.match(pretty.body, /Line 11, at \/paths\/~1a\/get\/responses\/200: description is missing here\./)
  const yaml = await admin.post('/admin/apis', { ...fields, openapi: 'openapi: 3.0.3\ninfo:\n  title: x\n  version: "1"\npaths:\n  /a:\n    get:\n      responses:\n        "200":\n          descriptio: x\n' })
  t.match(yaml.body, /Line 9, at \/paths\/~1a\/get\/responses\/200: description is missing here\./)
  t.match(yaml.body, /value="Kept"|>Kept</, 'the other fields are kept')

  const large = await admin.postMultipart('/admin/apis', fields, { openapiFile: ['big.json', Buffer.alloc(1024 * 1024 + 10, ' ')] })
  t.equal(large.statusCode, 413)
  t.match(large.body, /<p class="error" id="openapi-error"><span class="visually-hidden">Error: <\/span>The OpenAPI document is larger than 1 MB/)
  t.match(large.body, /id="name" name="name" type="text" value="Bad"/)
  t.match(large.body, /id="serviceUrl" name="serviceUrl" type="url" value="https:\/\/bad\.example\.com"/)
  t.equal(await countOf(app.db('apis').where('path', 'bad')), 0)
})

t.test('administrators see any API\'s reference under /admin; Portico\'s management API has its own', async (t) => {
  const { app, petstore } = await fixture
  const hidden = await app.services.apis.createApi({ name: 'Draft', path: 'draft', serviceUrl: 'https://draft.example.com', description: '', openapi: PETSTORE_JSON }, SYSTEM)
  const admin = await signedInClient(app, ADMIN)
  const preview = await admin.get(`/admin/apis/${hidden.id}/reference`)
  t.equal(preview.statusCode, 200)
  t.match(preview.body, new RegExp(`href="/admin/apis/${hidden.id}/reference/tags/pet"`))
  t.equal((await admin.get(`/admin/apis/${hidden.id}/reference/operations/addPet`)).statusCode, 200)
  t.equal((await admin.get(`/admin/apis/${hidden.id}/reference/schemas/Pet`)).statusCode, 200)
  t.equal((await (await developer(app)).get(`/admin/apis/${petstore.id}/reference`)).statusCode, 403)
  t.equal((await (await developer(app)).get(`/apis/${hidden.id}`)).statusCode, 404, 'not in a product: not shown to developers')
  const management = await admin.get('/apis/management')
  t.equal(management.statusCode, 200)
  t.match(management.body, /Authorization: Bearer &lt;token&gt;/)
  const users = await admin.get('/apis/management/search?q=users')
  t.match(users.body, /operations? match/)
  t.equal((await (await developer(app)).get('/apis/management')).statusCode, 404)
})
