import t from 'tap'
import { makeApp, createAdmin, signedInClient, ADMIN } from '../helpers'

t.test('probe', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const admin = await signedInClient(app, ADMIN)
  await admin.get('/admin/api-tokens')
  const created = await admin.post('/admin/api-tokens', { name: 'ci', expiresInDays: '' })
  console.log(created.statusCode)
  const token = /<code>(ptk_[^<]+)<\/code>/.exec(created.body)?.[1]
  const doc = await app.inject({ url: '/api/v1/openapi.json' })
  console.log(doc.statusCode, doc.body.slice(0, 3000))
  const r = await app.inject({ url: '/api/v1/users', headers: { authorization: `Bearer ${token}` } })
  console.log(r.statusCode, r.body)
  const r2 = await app.inject({ url: '/api/v1/users?state=x' , headers: { authorization: `Bearer ${token}` }})
  console.log(r2.statusCode, r2.body)
  const r3 = await app.inject({ method: 'POST', url: '/api/v1/users', payload: { email: 'x' }, headers: { authorization: `Bearer ${token}` }})
  console.log(r3.statusCode, r3.body)
  t.pass()
})
