import t from 'tap'
import { ADMIN, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { SYSTEM } from '../../fixtures/gateway'
import { productFor } from '../../fixtures/catalog'

// A select that grants something starts on "Choose…": submitted as it starts, it grants nothing.
t.test('the group select on a developer\'s page starts on Choose…, and its default adds nobody', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const admin = await signedInClient(app, ADMIN)
  const page = await admin.get(`/admin/developers/${dev.id}`)
  t.match(page.body, /<select id="groupId" name="groupId"[^>]*>\s*<option value="">Choose…<\/option>\s*<option value="\d+">Administrators<\/option>/, 'Choose… first, Administrators after it')
  t.notMatch(page.body, /<option[^>]* selected>Administrators/)
  const groupsBefore = await app.db('developer_groups').where('developer_id', dev.id).count({ n: '*' }).first()
  const res = await admin.post(`/admin/developers/${dev.id}/groups`, { groupId: '' })
  t.equal(res.statusCode, 400)
  t.match(res.body, /<p class="error" id="groupId-error"><span class="visually-hidden">Error: <\/span>Choose a group to add them to\.<\/p>/, 'the message beside the field')
  t.match(res.body, /<select id="groupId" name="groupId" class="auto" aria-invalid="true" aria-describedby="groupId-error">/)
  t.same(await app.db('developer_groups').where('developer_id', dev.id).count({ n: '*' }).first(), groupsBefore, 'nobody was added to any group')
  t.equal(await app.db('audit_events').where('action', 'group.member-added').first(), undefined)
})

t.test('a product\'s API and group selects start on Choose…, and their default adds nothing', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await app.services.apis.createApi({ name: 'Books', path: 'books', serviceUrl: 'https://backend.example/v1', description: '', openapi: '' }, SYSTEM)
  const product = await productFor(app, SYSTEM, { name: 'Gold' }, [], [])
  const admin = await signedInClient(app, ADMIN)
  const page = await admin.get(`/admin/products/${product.id}`)
  t.match(page.body, /<select id="apiId" name="apiId"[^>]*>\s*<option value="">Choose…<\/option>/)
  t.match(page.body, /<select id="groupId" name="groupId"[^>]*>\s*<option value="">Choose…<\/option>/)
  const api = await admin.post(`/admin/products/${product.id}/apis`, { apiId: '' })
  t.equal(api.statusCode, 400)
  t.match(api.body, /Choose one of the APIs in the list/)
  const group = await admin.post(`/admin/products/${product.id}/groups`, { groupId: '' })
  t.equal(group.statusCode, 400)
  t.match(group.body, /Choose one of the groups in the list/)
  const details = await app.services.products.findDetails(product.id)
  t.same([details.apis.length, details.groups.length], [0, 0], 'nothing added')
})
