import t from 'tap'
import { createServer } from 'node:http'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { importOpenApi } from '../../../../src/services/catalog/openapi-import'
import { DocumentProblem, prepareDocument } from '../../../../src/services/catalog/reference/prepare'
import { createDocumentWorkers } from '../../../../src/services/catalog/reference/worker-pool'
import { Invalid, TooLarge } from '../../../../src/services/kernel/errors'
import type { SchemaView } from '../../../../src/services/catalog/reference/draw'
import { parseOperation, parseSchema } from '../../../../src/services/catalog/reference/stored'
import { LIBRARY_JSON, LIBRARY_OPERATIONS, LIBRARY_YAML, PETS_YAML, PETSTORE_SWAGGER2, bigDocument } from '../../../fixtures/openapi'

async function refusal (text: string): Promise<string> {
  try {
    await prepareDocument(text)
  } catch (err) {
    if (err instanceof DocumentProblem) return err.said()
    throw err
  }
  throw new Error('the document was accepted')
}

t.test('the Library fixture imports from JSON and from YAML into the same reference', async (t) => {
  const json = await prepareDocument(LIBRARY_JSON)
  const yaml = await prepareDocument(LIBRARY_YAML)
  t.equal(json.format, 'json')
  t.equal(yaml.format, 'yaml')
  t.same(yaml.reference, json.reference)
  const ref = json.reference
  t.equal(ref.overview.operationCount, LIBRARY_OPERATIONS)
  t.same(ref.overview.tags.map((tag) => tag.name), ['Books', 'Authors', 'Loans', 'Members', 'Branches', 'Reviews'])
  t.equal(ref.overview.tags.reduce((n, tag) => n + tag.count, 0), LIBRARY_OPERATIONS + 1, 'memberLoans has two tags')
  t.equal(ref.overview.title, 'Library API')
  t.equal(ref.overview.summary, 'Books, authors, loans, members, branches and reviews of a city library.')

  const ops = ref.operations.map((o) => parseOperation(o.view))
  t.same(ops.map((o) => o.key), ref.operations.map((o) => o.operationId), 'keyed by operationId')
  const list = ops.find((o) => o.operationId === 'listBooks')
  t.ok(list)
  // Parameters from $refs: query and header, and an inline query enum.
  t.same(list?.parameters.map((p) => `${p.location}:${p.name}`), ['query:page', 'query:limit', 'header:X-Request-Id', 'query:sort'])
  t.same(list?.parameters.find((p) => p.name === 'sort')?.schema?.enum, ['newest', 'oldest', 'name'])
  t.same(list?.responses.map((r) => r.code), ['200', '400', '429'])
  t.equal(list?.responses[0].headers[0].name, 'X-Total-Count')
  // An array of objects through a $ref; allOf merged into one object's fields.
  const items = list?.responses[0].contents[0].schema?.properties?.find((p) => p.name === 'items')?.schema
  t.equal(items?.label, 'array of Book')
  t.same(items?.items?.properties?.map((p) => p.name), ['id', 'title', 'isbn', 'authors', 'categories', 'edition', 'published'])
  // Path parameters shared by the path item; examples.
  const get = ops.find((o) => o.operationId === 'getBook')
  t.same(get?.parameters.map((p) => [p.location, p.name, p.required]), [['path', 'bookId', true]])
  t.equal(get?.parameters[0].examples[0].value, '7f0c2a56-3f38-4c9b-9a43-0c2f7b1e9d11')
  const notFound = get?.responses.find((r) => r.code === '404')
  t.match(notFound?.contents[0].examples[0], { name: 'Nothing with this id', value: /"code": "not_found"/ })
  // oneOf with a discriminator; a request body with an example for the curl line.
  const book = parseSchema(ref.schemas.find((s) => s.name === 'Book')?.view ?? '{}')
  const edition = book?.properties?.find((p) => p.name === 'edition')?.schema
  t.equal(edition?.variants?.kind, 'one of')
  t.same(edition?.variants?.options.map((o) => o.ref), ['Paperback', 'Ebook', 'Audiobook'])
  t.ok(edition?.facts?.includes('discriminator: format'))
  const create = ops.find((o) => o.operationId === 'createBook')
  t.match(create?.sampleBody, { mediaType: 'application/json', value: /"name": "Example Book"/ })
  // Recursive schemas stop at the second appearance, with a link to their page.
  const category = ref.schemas.find((s) => s.name === 'Category')
  const parent = parseSchema(category?.view ?? '{}').properties?.find((p) => p.name === 'parent')?.schema
  t.equal(parent?.cut, 'recursive')
  t.equal(parent?.ref, 'Category')
  const review = parseSchema(ref.schemas.find((s) => s.name === 'Review')?.view ?? '{}')
  t.equal(review?.properties?.find((p) => p.name === 'replies')?.schema.items?.cut, 'recursive')
  t.equal(review?.properties?.find((p) => p.name === 'about')?.schema.variants?.kind, 'any of')
  // Maps (additionalProperties) and deprecated operations.
  const hours = ops.find((o) => o.operationId === 'openingHours')?.responses[0].contents[0].schema as SchemaView
  t.equal(hours.additional?.ref, 'OpeningHours')
  t.equal(ops.find((o) => o.operationId === 'replyToReview')?.deprecated, true)
  // Search looks in the path, summary, operationId, tags and description, in lower case.
  t.match(ref.operations.find((o) => o.operationId === 'openingHours')?.searchText, /\/branches\/\{branchid\}\/opening-hours[\s\S]*openinghours[\s\S]*branches/)
})

t.test('schemas are expanded three levels deep where they are used; deeper levels link to the named schema', async (t) => {
  const document = {
    openapi: '3.1.0', info: { title: 'Deep', version: '1' },
    paths: { '/a': { get: { responses: { 200: { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Outer' } } } } } } } },
    components: {
      schemas: {
        Outer: { type: 'object', properties: { one: { type: 'object', properties: { two: { type: 'object', properties: { three: { type: 'object', properties: { four: { type: 'string' } } } } } } }, inner: { $ref: '#/components/schemas/Inner' } } },
        Inner: { type: 'object', properties: { x: { type: 'object', properties: { y: { $ref: '#/components/schemas/Leaf' } } } } },
        Leaf: { type: 'object', properties: { z: { type: 'string' } } }
      }
    }
  }
  const { reference } = await prepareDocument(JSON.stringify(document))
  const schema = parseOperation(reference.operations[0].view).responses[0].contents[0].schema
  const three = schema?.properties?.[0].schema.properties?.[0].schema.properties?.[0].schema
  t.match(three, { label: 'object', ref: 'Outer', cut: 'deeper' }, 'the fourth level: on Outer\'s page')
  t.equal(three?.properties, undefined)
  const y = schema?.properties?.[1].schema.properties?.[0].schema.properties?.[0].schema
  t.match(y, { ref: 'Leaf', cut: 'elsewhere' }, 'a named schema past three levels: its own page')
  const outerPage = parseSchema(reference.schemas.find((s) => s.name === 'Outer')?.view ?? '{}')
  t.equal(outerPage?.properties?.[0].schema.properties?.[0].schema.properties?.[0].schema.properties?.[0].name, 'four', 'Outer\'s own page draws its deeper levels')
})

t.test('invalid documents are refused with the reason and where: a JSON Pointer, and the line', async (t) => {
  t.match(await refusal('openapi: 3.1.0\ninfo:\n  title: x\n  version: "1"\npaths:\n  /b:\n    post:\n      responsez: {}\n'), /^Line 8, at \/paths\/~1b\/post\/responsez: responsez is not expected (to be )?here/)
  t.match(await refusal('openapi: 3.0.3\ninfo:\n  title: x\n  title: y\n'), /^Line 4: this is not valid YAML or JSON \(Map keys must be unique\)/)
  t.match(await refusal('{\n  "openapi": "3.0.3",,\n}'), /^Line 2: this is not valid JSON/)
  t.match(await refusal('openapi: 3.0.3\ninfo:\n  title: x\n  version: "1"\npaths:\n  /a:\n    get:\n      responses:\n        "200":\n          description: ok\n          content:\n            application/json:\n              schema:\n                $ref: "#/components/schemas/Nope"\n'),
    /^Line 14, at \/paths\/~1a\/get\/responses\/200\/content\/application~1json\/schema\/\$ref: Missing \$ref pointer "#\/components\/schemas\/Nope"/)
  t.match(await refusal('{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{"/a/{id}":{"get":{"responses":{"200":{"description":"x"}}}}}}'), /^At \/paths\/~1a~1\{id\}\/get: `\/paths\/a\/\{id\}\/get` is missing path parameter/)
  t.match(await refusal('{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{"/a":{"get":{"operationId":"a","responses":{"200":{"description":"x"}}},"post":{"operationId":"a","responses":{"200":{"description":"x"}}}}}}'), /^At \/paths\/~1a\/post\/operationId: The operationId `a` is duplicated/)
  t.match(await refusal('{"openapi": "3.0.3",,}'), /^this is not valid JSON \(.*at character 21\)/, 'minified: where, by character')
  t.match(await refusal('swagger: "1.2"\ninfo: {title: x, version: "1"}\npaths: {}\n'), /^Line 1, at \/swagger: this is a Swagger document of a version Portico cannot convert/)
  t.match(await refusal('openapi: 2.5.0\n'), /At \/openapi: this is not an OpenAPI 3\.0 or 3\.1 document/)
  t.match(await refusal('- a\n- b\n'), /must be an OpenAPI object/)
  t.match(await refusal('just words'), /must be an OpenAPI object/)
})

t.test('references outside the document are never fetched nor read', async (t) => {
  let requests = 0
  const server = createServer((_req, res) => { requests++; res.end('{"type":"string"}') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const dir = mkdtempSync(join(tmpdir(), 'portico-ref-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'secret.json'), '{"type":"string","description":"secret"}')
  const withRef = (ref: string): string => PETS_YAML.replace('$ref: "#/components/schemas/Pet"', `$ref: "${ref}"`)
  t.match(await refusal(withRef(`http://127.0.0.1:${port}/schema.json`)), /^Line 17, at \/paths\/~1pets\/get\/responses\/200\/content\/application~1json\/schema\/items\/\$ref: the reference "http:\/\/127\.0\.0\.1:\d+\/schema\.json" points outside the document/)
  t.match(await refusal(withRef(join(dir, 'secret.json'))), /points outside the document/)
  t.match(await refusal(withRef('secret.json#/type')), /points outside the document/)
  t.equal(requests, 0, 'no request reached the server')
})

t.test('Swagger 2.0 is converted to OpenAPI 3.0 on import', async (t) => {
  const { reference, gatewayJson } = await prepareDocument(PETSTORE_SWAGGER2)
  t.equal(reference.overview.importedAs, 'Swagger 2.0')
  t.match(reference.overview.openapi, /^3\.0\./)
  const add = parseOperation(reference.operations.find((o) => o.operationId === 'addPet')?.view ?? '{}')
  t.equal(add?.requestBody?.required, true)
  t.equal(add?.requestBody?.contents[0].mediaType, 'application/json')
  t.match(add?.sampleBody, { mediaType: 'application/json', value: /"name": "doggie"/ })
  t.same(reference.overview.securitySchemes.map((s) => s.name), ['api_key', 'petstore_auth'])
  t.match(JSON.parse(gatewayJson), { openapi: /^3\.0/, servers: [{ description: 'The Portico gateway' }] })
})

t.test('through the worker thread: more than OPENAPI_MAX_MB is too large; a document of several megabytes imports; a refusal is Invalid', async (t) => {
  const workers = createDocumentWorkers()
  t.teardown(async () => await workers.close())
  await t.rejects(importOpenApi(workers, `openapi: 3.1.0\n#${'x'.repeat(1024 * 1024)}`, 1024 * 1024), TooLarge)
  const big = bigDocument(60)
  t.ok(big.length > 2_000_000, `${(big.length / 1e6).toFixed(1)} MB`)
  const imported = await importOpenApi(workers, big, 32 * 1024 * 1024)
  t.equal(imported.stored.operations.length, 60 * 34)
  t.equal(imported.text, big, 'kept as imported')
  const refused = await importOpenApi(workers, 'openapi: 2.5.0\n', 1024).catch((err: unknown) => err)
  t.ok(refused instanceof Invalid)
  t.match((refused as Invalid).fields.openapi, /At \/openapi: /)
})

t.test('references that multiply at every level: refused at once when huge, drawn small when not', async (t) => {
  // Each level uses the next twice: expanded naively, 2^levels values.
  const ladder = (levels: number): string => {
    const schemas: Record<string, unknown> = {}
    for (let i = 0; i < levels; i++) schemas[`L${i}`] = { type: 'object', properties: { a: { $ref: `#/components/schemas/L${i + 1}` }, b: { $ref: `#/components/schemas/L${i + 1}` } } }
    schemas[`L${levels}`] = { type: 'string' }
    return JSON.stringify({ openapi: '3.0.3', info: { title: 'x', version: '1' }, paths: { '/x': { get: { responses: { 200: { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/L0' } } } } } } } }, components: { schemas } })
  }
  // Refused before validation, which would walk the whole expansion (2^40 values: this test would never end).
  t.match(await refusal(ladder(40)), /references expand to more than 2 million values/)
  const prepared = await prepareDocument(ladder(12))
  t.ok(JSON.stringify(prepared.reference).length < 500_000, 'the reference stays small')
})

t.test('names longer than their columns: an operation keeps a key that fits, a tag or a schema name past its size gets no page', async (t) => {
  const long = `/${'a'.repeat(2500)}`
  const document = {
    openapi: '3.1.0', info: { title: 'Long', version: '1' },
    paths: { [long]: { get: { tags: ['t'.repeat(600)], responses: { 200: { description: 'ok', content: { 'application/json': { schema: { $ref: `#/components/schemas/${'S'.repeat(1200)}` } } } } } } } },
    components: { schemas: { ['S'.repeat(1200)]: { type: 'string' }, Short: { type: 'integer' } } }
  }
  const { reference } = await prepareDocument(JSON.stringify(document))
  t.ok(reference.operations[0].key.length <= 2200, `a key of ${reference.operations[0].key.length} characters`)
  t.same(reference.operations[0].tags, ['default'])
  t.same(reference.schemas.map((s) => s.name), ['Short'])
  t.match(parseOperation(reference.operations[0].view).responses[0].contents[0].schema, { label: /\(string\)$/, ref: undefined }, 'the long-named schema drawn where it is used, without a link')
})
