import t from 'tap'
import { createServer } from 'node:http'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { importOpenApi } from '../../../src/services/catalog/openapi-import'
import { Invalid, TooLarge } from '../../../src/services/errors'
import type { SchemaView } from '../../../src/services/catalog/openapi-reference'
import { LIBRARY_JSON, LIBRARY_OPERATIONS, LIBRARY_YAML, PETS_YAML, bigDocument } from '../../fixtures/openapi'

async function refusal (text: string): Promise<string> {
  try {
    await importOpenApi(text)
  } catch (err) {
    if (err instanceof Invalid) return err.fields.openapi
    throw err
  }
  throw new Error('the document was accepted')
}

t.test('the Library fixture imports from JSON and from YAML into the same reference', async (t) => {
  const json = await importOpenApi(LIBRARY_JSON)
  const yaml = await importOpenApi(LIBRARY_YAML)
  t.equal(json.format, 'json')
  t.equal(yaml.format, 'yaml')
  t.equal(json.text, LIBRARY_JSON, 'kept as imported')
  t.same(yaml.reference, json.reference)
  const ref = json.reference
  t.equal(ref.operationCount, LIBRARY_OPERATIONS)
  t.same(ref.tags.map((tag) => tag.name), ['Books', 'Authors', 'Loans', 'Members', 'Branches', 'Reviews'])
  t.equal(ref.tags.reduce((n, tag) => n + tag.operations.length, 0), LIBRARY_OPERATIONS)
  t.equal(ref.title, 'Library API')

  const ops = ref.tags.flatMap((tag) => tag.operations)
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
  const book = ref.schemas.find((s) => s.name === 'Book')?.schema
  const edition = book?.properties?.find((p) => p.name === 'edition')?.schema
  t.equal(edition?.variants?.kind, 'one of')
  t.same(edition?.variants?.options.map((o) => o.ref?.name), ['Paperback', 'Ebook', 'Audiobook'])
  t.ok(edition?.facts?.includes('discriminator: format'))
  const create = ops.find((o) => o.operationId === 'createBook')
  t.match(create?.sampleBody, { mediaType: 'application/json', value: /"name": "Example Book"/ })
  // Recursive schemas stop at the second appearance, with a link to their section.
  const category = ref.schemas.find((s) => s.name === 'Category')
  const parent = category?.schema.properties?.find((p) => p.name === 'parent')?.schema
  t.equal(parent?.cut, 'recursive')
  t.equal(parent?.ref?.anchor, category?.anchor)
  const review = ref.schemas.find((s) => s.name === 'Review')?.schema
  t.equal(review?.properties?.find((p) => p.name === 'replies')?.schema.items?.cut, 'recursive')
  t.equal(review?.properties?.find((p) => p.name === 'about')?.schema.variants?.kind, 'any of')
  // Maps (additionalProperties) and deprecated operations.
  const hours = ops.find((o) => o.operationId === 'openingHours')?.responses[0].contents[0].schema as SchemaView
  t.equal(hours.additional?.ref?.name, 'OpeningHours')
  t.equal(ops.find((o) => o.operationId === 'replyToReview')?.deprecated, true)
})

t.test('invalid documents are refused with the reason and, where it can be found, the line', async (t) => {
  t.match(await refusal('openapi: 3.1.0\ninfo:\n  title: x\n  version: "1"\npaths:\n  /b:\n    post:\n      responsez: {}\n'), /^Line 8: responsez is not expected here|^Line 8: responsez is not expected to be here/)
  t.match(await refusal('openapi: 3.0.3\ninfo:\n  title: x\n  title: y\n'), /^Line 4: this is not valid YAML or JSON \(Map keys must be unique\)/)
  t.match(await refusal('{\n  "openapi": "3.0.3",,\n}'), /^Line 2: this is not valid JSON/)
  t.match(await refusal('openapi: 3.0.3\ninfo:\n  title: x\n  version: "1"\npaths:\n  /a:\n    get:\n      responses:\n        "200":\n          description: ok\n          content:\n            application/json:\n              schema:\n                $ref: "#/components/schemas/Nope"\n'),
    /^Line 14: Missing \$ref pointer "#\/components\/schemas\/Nope"/)
  t.match(await refusal('swagger: "2.0"\ninfo: {title: x, version: "1"}\npaths: {}\n'), /Swagger 2\.0 document/)
  t.match(await refusal('openapi: 2.5.0\n'), /not an OpenAPI 3\.0 or 3\.1 document/)
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
  t.match(await refusal(withRef(`http://127.0.0.1:${port}/schema.json`)), /^Line 17: the reference "http:\/\/127\.0\.0\.1:\d+\/schema\.json" points outside the document/)
  t.match(await refusal(withRef(join(dir, 'secret.json'))), /points outside the document/)
  t.match(await refusal(withRef('secret.json#/type')), /points outside the document/)
  t.equal(requests, 0, 'no request reached the server')
})

t.test('more than 10 MB is too large; a document of several megabytes imports', async (t) => {
  await t.rejects(importOpenApi(`openapi: 3.1.0\n#${'x'.repeat(10 * 1024 * 1024)}`), TooLarge)
  const big = bigDocument(60)
  t.ok(big.length > 2_000_000, `${(big.length / 1e6).toFixed(1)} MB`)
  const imported = await importOpenApi(big)
  t.equal(imported.reference.operationCount, 60 * 34)
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
  const imported = await importOpenApi(ladder(12))
  t.ok(JSON.stringify(imported.reference).length < 500_000, 'the reference stays small')
})
