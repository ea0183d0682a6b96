import t from 'tap'
import { safeNext } from '../../../src/routes/shared/forms'

t.test('safeNext: only a same-origin path of printable ASCII', async (t) => {
  for (const good of ['/', '/admin', '/admin/developers?state=active&q=a%20b', '/profile#email', '/a-b_c.d~e']) {
    t.equal(safeNext(good, '/home'), good, good)
  }
  const bad = [
    '//evil.example/', '/\\evil.example', '\\/evil.example', '/\t/evil.example', '/\n', '/\r\n', '/\u0000', '/\u007f', '/\u00ff', '/\u0100',
    '/é', '/😀', ' /admin', '/admin ', '/a b', '/a//b', 'https://evil.example/', 'evil.example', '', '/' + 'a'.repeat(2001), '/\u2028', '/\u00a0'
  ]
  for (const [i, value] of bad.entries()) t.equal(safeNext(value, '/home'), '/home', `refused: case ${i}`)
  t.equal(safeNext(undefined, '/home'), '/home')
})
