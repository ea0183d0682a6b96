import t from 'tap'
import { checkApiPolicy, ipAllowMatcher, ipAllowProblem, type ApiPolicyInput } from '../../src/services/gateway/policies'
import { isPreflight, preflightHeaders, varyOrigin } from '../../src/gateway/cors'
import { responseHeadersFromBackend } from '../../src/gateway/forwarding'

const blank: ApiPolicyInput = { corsOrigins: '', corsHeaders: '', keyHeader: '', keyQuery: '', backendHeaders: '', backendQuery: '', backendClear: false, suppliedSchemes: '', timeoutSeconds: '', mock: false }
const fieldsOf = (input: Partial<ApiPolicyInput>): Record<string, string> => {
  try {
    checkApiPolicy({ ...blank, ...input })
  } catch (err) {
    return (err as { fields: Record<string, string> }).fields
  }
  return {}
}

t.test('an API\'s policy: origins normalised, header names lower-cased (the key header kept as written), credentials parsed, blanks mean the defaults', async (t) => {
  const { policy, secrets } = checkApiPolicy({
    ...blank,
    corsOrigins: 'https://App.Example.com/\nhttp://localhost:5173\nhttps://app.example.com',
    corsHeaders: 'X-Request-Id',
    keyHeader: 'X-Api-Key',
    keyQuery: 'api-key',
    backendHeaders: 'X-Backend-Token: s3cret: with colon\n',
    backendQuery: 'api_key=special-key',
    suppliedSchemes: 'api_key\napi_key',
    timeoutSeconds: '5'
  })
  t.same(policy.corsOrigins, ['https://app.example.com', 'http://localhost:5173'])
  t.same(policy.corsHeaders, ['x-request-id'])
  t.equal(policy.keyHeader, 'X-Api-Key', 'the key header kept as written, for documents and samples (the gateway compares it in lower case)')
  t.equal(policy.keyQuery, 'api-key')
  t.same(policy.suppliedSchemes, ['api_key'])
  t.equal(policy.timeoutSeconds, 5)
  t.same(secrets, { headers: [['x-backend-token', 's3cret: with colon']], query: [['api_key', 'special-key']] })
  const defaults = checkApiPolicy({ ...blank, keyHeader: 'Ocp-Apim-Subscription-Key', keyQuery: 'subscription-key' })
  t.same([defaults.policy.keyHeader, defaults.policy.keyQuery, defaults.policy.timeoutSeconds, defaults.secrets], [null, null, null, null], 'the defaults are kept as none; blank credentials stay as they are')
  t.same(checkApiPolicy({ ...blank, corsOrigins: ' * ' }).policy.corsOrigins, '*')
  t.same(checkApiPolicy({ ...blank, backendClear: true, backendHeaders: 'X-A: b' }).secrets, { headers: [], query: [] }, 'remove wins')
})

t.test('an API\'s policy: each bad field gets its own message', async (t) => {
  t.match(fieldsOf({ corsOrigins: 'https://app.example.com/path' }), { corsOrigins: /is not an origin/ })
  t.match(fieldsOf({ corsOrigins: '*\nhttps://a.example' }), { corsOrigins: /\* alone/ })
  t.match(fieldsOf({ corsOrigins: 'ftp://a.example' }), { corsOrigins: /is not an origin/ })
  t.match(fieldsOf({ corsHeaders: 'X Bad' }), { corsHeaders: /not a header name/ })
  t.match(fieldsOf({ keyHeader: 'Host' }), { keyHeader: /header name/ })
  t.match(fieldsOf({ keyQuery: 'a b' }), { keyQuery: /query parameter name/ })
  t.match(fieldsOf({ backendHeaders: 'no colon here' }), { backendHeaders: /Each line is Name: value/ })
  t.match(fieldsOf({ backendHeaders: 'Content-Length: 5' }), { backendHeaders: /set by the gateway/ })
  t.match(fieldsOf({ keyHeader: 'X-Key', backendHeaders: 'X-Key: 1' }), { backendHeaders: /key's own header/ })
  t.match(fieldsOf({ backendQuery: 'a b=1' }), { backendQuery: /not a query parameter name/ })
  for (const bad of ['0', '241', '1.5', 'x']) t.match(fieldsOf({ timeoutSeconds: bad }), { timeoutSeconds: /from 1 to 240/ }, `timeout ${bad}`)
})

t.test('a product\'s allowed addresses: addresses and CIDR ranges, IPv4 and IPv6, mapped IPv4 too', async (t) => {
  t.equal(ipAllowProblem('203.0.113.7\n198.51.100.0/24\n2001:db8::/32\n'), null)
  t.match(ipAllowProblem('10.0.0.0/33'), /not an IP address or a CIDR range/)
  t.match(ipAllowProblem('example.com'), /not an IP address/)
  t.equal(ipAllowMatcher(' \n'), null, 'no lines: anyone')
  const allowed = ipAllowMatcher('203.0.113.7\n198.51.100.0/24\n2001:db8::/32') as (ip: string) => boolean
  for (const ip of ['203.0.113.7', '198.51.100.200', '::ffff:198.51.100.1', '2001:db8::1']) t.ok(allowed(ip), `${ip} allowed`)
  for (const ip of ['203.0.113.8', '198.51.101.1', '2001:db9::1', '127.0.0.1', 'junk']) t.notOk(allowed(ip), `${ip} refused`)
})

t.test('CORS: preflights recognised; allowed origins answered, the backend\'s own CORS headers replaced, Vary: Origin always', async (t) => {
  t.ok(isPreflight('OPTIONS', { origin: 'https://a.example', 'access-control-request-method': 'GET' }))
  t.notOk(isPreflight('OPTIONS', { origin: 'https://a.example' }), 'a plain OPTIONS is a call')
  t.notOk(isPreflight('GET', { origin: 'https://a.example', 'access-control-request-method': 'GET' }))
  const cors = { origins: new Set(['https://a.example']), allowHeaders: 'x-api-key, content-type' }
  t.match(preflightHeaders(cors, 'https://a.example'), { 'access-control-allow-origin': 'https://a.example', 'access-control-allow-headers': 'x-api-key, content-type', 'access-control-max-age': '3600', vary: 'Origin' })
  const backend = { 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'true', vary: 'Accept-Encoding', 'content-type': 'application/json' }
  const sandbox = { 'content-security-policy': 'sandbox' }
  t.same(responseHeadersFromBackend(backend, { policy: cors, origin: 'https://a.example' }), { vary: 'Accept-Encoding, Origin', 'content-type': 'application/json', 'access-control-allow-origin': 'https://a.example', ...sandbox })
  t.same(responseHeadersFromBackend(backend, { policy: cors, origin: 'https://evil.example' }), { vary: 'Accept-Encoding, Origin', 'content-type': 'application/json', ...sandbox }, 'another origin: no CORS headers at all')
  t.same(responseHeadersFromBackend(backend, { policy: cors, origin: undefined }), { vary: 'Accept-Encoding, Origin', 'content-type': 'application/json', ...sandbox }, 'no origin (not a browser): no CORS headers, Vary still')
  t.same(responseHeadersFromBackend(backend), { ...backend, ...sandbox }, 'no CORS policy: the backend\'s CORS headers pass as they are')
  t.equal(varyOrigin('origin'), 'origin')
  t.equal(varyOrigin(undefined), 'Origin')
})
