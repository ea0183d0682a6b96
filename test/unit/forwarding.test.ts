import type { IncomingHttpHeaders } from 'node:http'
import t from 'tap'
import { KEY_HEADER, originForm, requestHeadersForBackend, responseHeadersFromBackend, safePath, splitGatewayUrl, takeQueryParam } from '../../src/gateway/forwarding'

// The gateway's header and URL rules as pure functions: what reaches a backend, what reaches the caller.

const client = { ip: '203.0.113.9', ips: undefined, host: 'portal.example.com', protocol: 'https' }

t.test('request headers: no key, no hop-by-hop headers, no portal cookies, no client claims; forwarding headers set anew', async (t) => {
  const out = requestHeadersForBackend({
    [KEY_HEADER]: 'secret-key',
    connection: 'keep-alive, x-drop-me',
    'x-drop-me': '1',
    'keep-alive': 'timeout=5',
    te: 'trailers',
    'x-forwarded-for': '6.6.6.6',
    'x-real-ip': '6.6.6.6',
    forwarded: 'for=6.6.6.6',
    cookie: 'portico_session=abc; theirs=1; portico_csrf=def',
    accept: 'application/json'
  }, client)
  t.equal(out[KEY_HEADER], undefined, 'the key never reaches the backend')
  for (const name of ['connection', 'x-drop-me', 'keep-alive', 'te']) t.equal(out[name], undefined, `${name} is dropped`)
  t.equal(out.cookie, 'theirs=1', 'only the backend\'s own cookies go on')
  t.equal(out.accept, 'application/json', 'other headers pass')
  t.equal(out['x-forwarded-for'], '203.0.113.9', 'the client\'s claim is replaced by what the gateway believes')
  t.equal(out['x-real-ip'], '203.0.113.9')
  t.equal(out['x-forwarded-proto'], 'https')
  t.equal(out['x-forwarded-host'], 'portal.example.com')
  t.equal(out.forwarded, 'for=203.0.113.9;proto=https;host="portal.example.com"')
})

t.test('request headers: a renamed key header is removed; backend credentials are set over what the client sent', async (t) => {
  const out = requestHeadersForBackend({ 'x-api-key': 'the-key', 'x-backend-token': 'forged', [KEY_HEADER]: 'passes: not this API\'s key header' }, client, 'x-api-key', [['x-backend-token', 's3cret']])
  t.equal(out['x-api-key'], undefined)
  t.equal(out['x-backend-token'], 's3cret')
  t.equal(out[KEY_HEADER], 'passes: not this API\'s key header')
})

t.test('request headers: a chain of trusted proxies, IPv6 in Forwarded, a cookie header of portal cookies only', async (t) => {
  const out = requestHeadersForBackend({ cookie: 'portico_session=abc' }, { ip: '2001:db8::1', ips: ['10.0.0.2', '10.0.0.1', '2001:db8::1'], host: undefined, protocol: 'http' })
  t.equal(out.cookie, undefined, 'nothing left: no cookie header at all')
  t.equal(out['x-forwarded-for'], '2001:db8::1, 10.0.0.1, 10.0.0.2', 'client first, then each proxy, ending with the peer')
  t.equal(out.forwarded, 'for="[2001:db8::1]";proto=http')
  t.equal(out['x-forwarded-host'], undefined)
})

t.test('response headers: no portal cookies, nameless cookies or origin-wide headers; a sandbox policy always', async (t) => {
  const out = responseHeadersFromBackend({
    'set-cookie': ['portico_session=stolen; Path=/', 'theirs=1; Path=/', '=nameless', 'novalue'],
    'clear-site-data': '"cookies"',
    'strict-transport-security': 'max-age=1',
    'alt-svc': 'h3=":443"',
    connection: 'close',
    'content-security-policy': "default-src 'self'",
    'content-type': 'text/html'
  })
  t.same(out['set-cookie'], ['theirs=1; Path=/'])
  for (const name of ['clear-site-data', 'strict-transport-security', 'alt-svc', 'connection']) t.equal(out[name], undefined, `${name} is dropped`)
  t.equal(out['content-security-policy'], "default-src 'self', sandbox")
  t.equal(out['content-type'], 'text/html')
  // undici hands a header sent once as a string, Set-Cookie included.
  t.equal(responseHeadersFromBackend({ 'set-cookie': 'portico_csrf=x' } as unknown as IncomingHttpHeaders)['set-cookie'], undefined, 'a single portal cookie: no Set-Cookie left')
  t.equal(responseHeadersFromBackend({})['content-security-policy'], 'sandbox')
})

t.test('URLs: origin form, the key taken out of the query, unsafe paths refused', async (t) => {
  t.equal(originForm('/a?b'), '/a?b')
  t.equal(originForm('http://host:8080/a?b'), '/a?b')
  t.equal(originForm('http://host'), '/')
  t.equal(originForm('*'), null)
  t.same(splitGatewayUrl('/gateway/weather/today?city=Oslo&subscription-key=k1&x=1', '/gateway'), { segments: ['weather', 'today'], query: 'city=Oslo&subscription-key=k1&x=1' })
  t.same(takeQueryParam('city=Oslo&subscription-key=k1&x=1', 'subscription-key'), { value: 'k1', rest: 'city=Oslo&x=1' })
  t.same(takeQueryParam('subscription%2Dkey=k%20two&subscription-key=second', 'subscription-key'), { value: 'k two', rest: '' }, 'an encoded name is the key; the first one counts; none is passed on')
  t.same(takeQueryParam('api-key&x=%zz', 'api-key'), { value: '', rest: 'x=%zz' }, 'a name without a value; other parts kept as they came')
  t.same(takeQueryParam('', 'api-key'), { value: null, rest: '' })
  t.equal(splitGatewayUrl('/gatewayother/a', '/gateway'), null, 'a prefix that is not a path segment is not the gateway')
  t.ok(safePath(['weather', 'to%20day']))
  for (const bad of [['..'], ['%2e%2e'], ['a%2F..'], ['%E0%A4%A'], ['a\\b']]) t.notOk(safePath(bad), `${bad[0]} is refused`)
  // Segments without an escape are checked without decoding, with the same answers.
  t.ok(safePath(['v1', '...', 'a.b', '']), 'dots inside a name, three dots and an empty segment pass')
  for (const bad of [['v1', '.', 'x'], ['v1', '..'], ['%2E'], ['a%5Cb'], ['a', '..%2Fetc']]) t.notOk(safePath(bad), `${bad.join('/')} is refused`)
  t.same(splitGatewayUrl('/gateway///weather/today', '/gateway'), { segments: ['weather', 'today'], query: '' }, 'slashes after the base are skipped')
  t.same(splitGatewayUrl('//books/1?x', ''), { segments: ['books', '1'], query: 'x' }, 'at the host\'s root')
  t.same(splitGatewayUrl('/gateway', '/gateway'), { segments: [''], query: '' }, 'the base alone')
})
