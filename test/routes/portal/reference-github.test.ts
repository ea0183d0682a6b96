import t from 'tap'
import { ADMIN, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { githubDocument } from '../../fixtures/openapi'
import { SYSTEM } from '../../fixtures/gateway'
import { productFor } from '../../fixtures/catalog'

// GitHub's REST document, as @octokit/openapi ships it (not minified, not trimmed): 13 MB, 1,223
// operations, 969 schemas. Imported through the form, then read page by page as a developer would.
t.test('GitHub\'s document: imported through the form; every page under 1 MB; every operation and schema reached from the overview', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await createDeveloper(app)
  const document = githubDocument()
  t.ok(document.length > 12_000_000, `${(document.length / 1e6).toFixed(1)} MB`)
  const admin = await signedInClient(app, ADMIN)
  await admin.get('/admin/apis/new')
  const saved = await admin.postMultipart('/admin/apis', { name: 'GitHub', path: 'github', serviceUrl: 'https://api.github.com', description: '' }, { openapiFile: ['api.github.com.json', document] })
  t.equal(saved.statusCode, 303, 'accepted under OPENAPI_MAX_MB (32)')
  const api = await app.db('apis').where('path', 'github').first('id')
  await productFor(app, SYSTEM, { name: 'GitHub' }, [api.id])

  const developer = await signedInClient(app, DEV)
  const base = `/apis/${api.id as number}`
  const seen = new Set<string>([base])
  const queue = [base]
  let largest = { bytes: 0, url: '' }
  let failures = 0
  while (queue.length > 0) {
    const url = queue.shift() as string
    const res = await developer.get(url)
    if (res.statusCode !== 200) { failures++; t.fail(`${url}: ${res.statusCode}`) }
    const bytes = Buffer.byteLength(res.body)
    if (bytes > largest.bytes) largest = { bytes, url }
    for (const [, href] of res.body.matchAll(/href="([^"#]+)"/g)) {
      const target = href.replace(/&amp;/g, '&')
      if (target.startsWith(`${base}/`) && !target.startsWith(`${base}/openapi`) && !target.startsWith(`${base}/search`) && !seen.has(target)) { seen.add(target); queue.push(target) }
    }
  }
  t.equal(failures, 0, `${seen.size} pages, each 200`)
  t.ok(largest.bytes < 1024 * 1024, `the largest page: ${largest.bytes} bytes (${largest.url})`)
  const operations = await app.db('api_operations').where('revision', app.db('apis').where('id', api.id).select('reference_revision')).pluck('key') as string[]
  const schemas = await app.db('api_schemas').where('revision', app.db('apis').where('id', api.id).select('reference_revision')).pluck('name') as string[]
  t.equal(operations.length, 1223)
  t.equal(schemas.length, 969)
  t.same(operations.filter((key) => !seen.has(`${base}/operations/${encodeURIComponent(key)}`)), [], 'every operation is linked')
  t.same(schemas.filter((name) => !seen.has(`${base}/schemas/${encodeURIComponent(name)}`)), [], 'every schema is linked')

  const search = await developer.get(`${base}/search?q=pulls/{pull_number}/merge`)
  t.match(search.body, /operations? match/)
  t.match(search.body, /href="\/apis\/\d+\/operations\/pulls%2Fmerge"/)
  const merge = await developer.get(`${base}/operations/pulls%2Fmerge`)
  t.match(merge.body, /<h1><span class="method method-put">PUT<\/span> <code class="break">\/repos\/\{owner\}\/\{repo\}\/pulls\/\{pull_number\}\/merge<\/code><\/h1>/)
  t.notMatch(merge.body, /<script/i)
  t.match(merge.body, /<div class="prose"><p>/, 'descriptions drawn from Markdown')
})
