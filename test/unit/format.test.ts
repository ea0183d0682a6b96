import t from 'tap'
import { breakable, formatNumber } from '../../src/format'

t.test('breakable: long emails and URLs may wrap only at their joints, and everything is escaped', async (t) => {
  t.equal(breakable('maximiliana.konstantinopolitanische@example.com'), 'maximiliana<wbr>.konstantinopolitanische<wbr>@example<wbr>.com')
  t.equal(breakable('https://backend.example/v1/long-path-name'), 'https://<wbr>backend<wbr>.example/<wbr>v1/<wbr>long-<wbr>path-<wbr>name', 'a run of slashes is one joint')
  t.equal(breakable('dev@example.com'), 'dev@example.com', 'a short value is left whole')
  t.equal(breakable('<script>@example.com"&\'x-very-long-address'), '&lt;script&gt;<wbr>@example<wbr>.com&quot;&amp;&#39;x-<wbr>very-<wbr>long-<wbr>address')
  t.equal(breakable(null), '')
})

t.test('numbers: thousands separated alike', async (t) => {
  t.equal(formatNumber(1234567), '1,234,567')
  t.equal(formatNumber(0), '0')
})
