import t from 'tap'
import { migrationSource } from '../../../../src/db/migration-source'
import { createAdmin, makeApp, signedInClient, ADMIN, countOf } from '../../../helpers'
import { LIBRARY_JSON, PETS_YAML } from '../../../fixtures/openapi'
import { SYSTEM } from '../../../fixtures/gateway'

t.test('an API saved before the reference was stored in parts: its document moves to a revision and is drawn again at start-up', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const library = await app.services.apis.createApi({ name: 'Library', path: 'library', serviceUrl: 'https://library.example.com', description: '', openapi: LIBRARY_JSON }, SYSTEM)
  const pets = await app.services.apis.createApi({ name: 'Pets', path: 'pets', serviceUrl: 'https://pets.example.com', description: '', openapi: PETS_YAML }, SYSTEM)
  // Back to the single-part form (as the previous version stored it), then forward again.
  const db = app.db
  for (let i = 0; i < 10 && await db.schema.hasTable('api_revisions'); i++) await db.migrate.down({ migrationSource })
  t.equal((await db('apis').where('id', library.id).first('openapi_document')).openapi_document, LIBRARY_JSON, 'the document back in its row')
  await db.migrate.latest({ migrationSource })
  t.equal((await db('apis').where('id', library.id).first('openapi_document')).openapi_document, null, 'moved out of the row')
  t.equal((await db('apis').where('id', library.id).first('openapi_reference')).openapi_reference, null, 'its reference to be drawn again')
  const admin = await signedInClient(app, ADMIN)
  const waiting = await admin.get(`/admin/apis/${library.id}/reference`)
  t.match(waiting.body, /being drawn/)
  t.equal((await admin.get(`/admin/apis/${library.id}/openapi`)).body, LIBRARY_JSON, 'the document can be downloaded meanwhile')

  t.equal(await app.services.apis.redrawMissing(), 2)
  const page = await admin.get(`/admin/apis/${library.id}/reference/operations/getBook`)
  t.equal(page.statusCode, 200)
  t.equal((await admin.get(`/admin/apis/${pets.id}/reference/tags/default`)).statusCode, 200)
  t.equal(await countOf(db('api_revisions')), 2, 'the revisions that only held the documents are gone')
  t.equal(await app.services.apis.redrawMissing(), 0, 'nothing left to draw')
})
