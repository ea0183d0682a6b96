import t from 'tap'
import { compileOperations, mockAnswerOf, routerPath } from '../../src/services/gateway/operations'

t.test('operations are matched by method and path template, templates the router cannot take left out', async (t) => {
  t.equal(routerPath('/pets/{petId}/photos/{photoId}'), '/pets/:p0/photos/:p1')
  t.equal(routerPath('/time/12:00'), '/time/12::00', 'a literal colon')
  const router = compileOperations([
    { key: 'listPets', method: 'get', path: '/pets' },
    { key: 'getPet', method: 'get', path: '/pets/{petId}' },
    { key: 'same shape', method: 'get', path: '/pets/{other}' },
    { key: 'mine', method: 'get', path: '/pets/mine' },
    { key: 'addPet', method: 'post', path: '/pets' },
    { key: 'query', method: 'query', path: '/pets' }
  ])
  t.equal(router.size, 4, 'the duplicate shape and the unknown method are left out')
  t.equal(router.match('GET', '/pets')?.key, 'listPets')
  t.equal(router.match('GET', '/pets/')?.key, 'listPets', 'a trailing slash is the same path')
  t.equal(router.match('GET', '/pets/7')?.key, 'getPet')
  t.equal(router.match('GET', '/pets/mine')?.key, 'mine', 'a fixed segment wins over a parameter')
  t.equal(router.match('POST', '/pets')?.key, 'addPet')
  t.equal(router.match('DELETE', '/pets'), null)
  t.equal(router.match('GET', '/Pets'), null, 'paths are case-sensitive')
  t.equal(router.match('GET', '/pets/7/more'), null)
  t.equal(router.match('BREW', '/pets'), null)
})

t.test('a mock answer is the first 2xx response and its first example', async (t) => {
  t.same(mockAnswerOf([{ code: '404', contents: [] }, { code: '201', contents: [{ mediaType: 'text/plain', examples: [] }, { mediaType: 'application/json', examples: [{ value: '{"id":1}' }] }] }]),
    { status: 201, contentType: 'application/json', body: '{"id":1}' })
  t.same(mockAnswerOf([{ code: '200', contents: [{ mediaType: 'application/json', examples: [], generated: '{"id":0}' }] }]), { status: 200, contentType: 'application/json', body: '{"id":0}' }, 'else the one made from the schema')
  t.same(mockAnswerOf([{ code: '204', contents: [] }]), { status: 204, contentType: null, body: null })
  t.same(mockAnswerOf([{ code: '2XX', contents: [{ mediaType: 'application/xml', examples: [] }] }]), { status: 200, contentType: 'application/xml', body: null })
  t.same(mockAnswerOf([{ code: 'default', contents: [] }]), { status: 200, contentType: null, body: null })
})
