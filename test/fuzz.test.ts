// Every form and query string the pages offer, fed hostile input: never a 5xx, never a crash.
import t, { type Test } from 'tap'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from './helpers'
import { PETS_YAML } from './fixtures/openapi'
import { productFor } from './fixtures/catalog'
import { startBackend } from './fixtures/gateway'
import { generateSync } from 'otplib'

/** A JSON array nested 5,000 levels deep (about 10 KB): it overflowed the stack of a recursive input check. */
const DEEP = '['.repeat(5000) + ']'.repeat(5000)
const NUL_MESSAGE = /a character that is not allowed \(a NUL byte\)/
const DEEP_MESSAGE = /nested too deeply/

const PAYLOADS: Array<string | string[]> = [
  '', ' ', 'x', '/\n', '/\r\nSet-Cookie: x=y', '\r\n', '/\u0000', '\u0000', '/\u007f', '\u00ff', '/\u0100', 'é', '😀', '\ud800', '\u2028',
  '/\t/evil.example', '//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>', "' OR 1=1 --", '%', '%00', '%0A', '../../etc/passwd', '$DevFirstName', '<%= it %>', '${process.exit()}',
  '-1', '0', '1e309', '99999999999999999999', 'NaN', 'true', '[]', '{}', 'A'.repeat(5000), ['a', 'b']
]

interface Form {
  action: string
  fields: Map<string, string>
}

function decode (html: string): string {
  return html.replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
}

function formsIn (html: string): Form[] {
  const forms: Form[] = []
  for (const match of html.matchAll(/<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
    const fields = new Map<string, string>()
    for (const input of match[2].matchAll(/<(input|textarea|select)\b([^>]*)>/g)) {
      const name = /name="([^"]+)"/.exec(input[2])?.[1]
      if (name === undefined || name === '_csrf') continue
      fields.set(name, decode(/value="([^"]*)"/.exec(input[2])?.[1] ?? 'x'))
    }
    forms.push({ action: decode(match[1]), fields })
  }
  return forms
}

function linksIn (html: string): string[] {
  return [...html.matchAll(/href="(\/[^"]*)"/g)].map((m) => decode(m[1])).filter((href) => !href.startsWith('/public/'))
}

async function fuzzPages (t: Test, client: Client, pages: string[], overrides: Record<string, Record<string, string>> = {}): Promise<number> {
  let requests = 0
  const seenForms = new Set<string>()
  const queries = new Map<string, Set<string>>()
  for (const page of pages) {
    const res = await client.get(page)
    t.ok(res.statusCode < 500, `GET ${page}: ${res.statusCode}`)
    for (const link of linksIn(res.body)) {
      const url = new URL(link, 'http://portal')
      // One path per route: /subscriptions/7/cancel stands for every subscription's.
      const route = url.pathname.replace(/\/\d+(?=\/|$)/g, '/N')
      const known = [...queries.keys()].find((path) => path.replace(/\/\d+(?=\/|$)/g, '/N') === route) ?? url.pathname
      const names = queries.get(known) ?? new Set<string>()
      for (const name of url.searchParams.keys()) names.add(name)
      queries.set(known, names)
    }
    for (const form of formsIn(res.body)) {
      const key = `${form.action} ${[...form.fields.keys()].join(',')}`
      if (form.fields.size === 0 || seenForms.has(key)) continue
      seenForms.add(key)
      for (const field of form.fields.keys()) {
        for (const payload of PAYLOADS) {
          const fields: Record<string, string | string[]> = { ...Object.fromEntries(form.fields), ...(overrides[form.action] ?? {}), [field]: payload }
          let answer = await client.post(form.action, fields)
          if (answer.statusCode === 403 || answer.statusCode === 303) {
            // Signed in or out by the last post: the page again, for a token of the new state.
            await client.get(page)
            answer = await client.post(form.action, fields)
          }
          requests++
          if (answer.statusCode >= 500) t.fail(`POST ${form.action} ${field}=${JSON.stringify(payload).slice(0, 40)}: ${answer.statusCode}`)
          if (typeof payload === 'string' && payload.includes('\u0000') && (answer.statusCode !== 400 || !NUL_MESSAGE.test(answer.body))) {
            t.fail(`POST ${form.action} ${field} with a NUL: ${answer.statusCode}, not 400 with the NUL message`)
          }
        }
        // The same form as JSON, one field nested 5,000 deep: 400 before anything else reads it.
        const body = `{"_csrf":${JSON.stringify(client.csrf ?? '')},${JSON.stringify(field)}:${DEEP}}`
        const deep = await client.request({ method: 'POST', url: form.action, headers: { 'content-type': 'application/json' }, payload: body })
        requests++
        if (deep.statusCode !== 400 || !DEEP_MESSAGE.test(deep.body)) t.fail(`POST ${form.action} ${field} nested 5,000 deep: ${deep.statusCode}`)
      }
    }
  }
  for (const [path, names] of queries) {
    for (const name of new Set([...names, 'next', 'page', 'q', 'notice'])) {
      for (const payload of PAYLOADS) {
        const search = new URLSearchParams()
        for (const one of Array.isArray(payload) ? payload : [payload]) search.append(name, one)
        const answer = await client.get(`${path}?${search.toString()}`)
        requests++
        if (answer.statusCode >= 500) t.fail(`GET ${path}?${name}=${JSON.stringify(payload).slice(0, 40)}: ${answer.statusCode}`)
        if (payload === '\u0000' && answer.statusCode !== 400) t.fail(`GET ${path}?${name}=%00: ${answer.statusCode}, not 400`)
      }
    }
  }
  return requests
}

t.test('hostile input in every form and query: 0 crashes, 0 5xx', async (t) => {
  const app = await makeApp(t, { RATE_LIMIT_PER_MINUTE: '100000', SIGNIN_FAILURE_LIMIT: '100000', EMAILS_PER_ADDRESS_PER_HOUR: '100000' })
  const admin = await createAdmin(app)
  const dev = await createDeveloper(app)
  const group = await app.services.groups.createGroup({ name: 'Partners', description: 'External' }, { id: admin.id, label: admin.email, ip: null })
  const actor = { id: admin.id, label: admin.email, ip: null }
  const api = await app.services.apis.createApi({ name: 'Pets', path: 'pets', serviceUrl: 'https://pets.example.com', description: 'Pets.', openapi: PETS_YAML }, actor)
  // One subscription per developer (the one below): the fuzzed subscribe form is refused, not flooding the lists.
  const product = await productFor(app, actor, { name: 'Gold', approvalRequired: true, subscriptionsLimit: '1', terms: 'Be kind.' }, [api.id])
  const subscription = await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: 'Fuzzed app' }, actor)
  let requests = 0

  // Signed out: sign-in with the right password, so a hostile `next` reaches the redirect.
  requests += await fuzzPages(t, new Client(app), ['/', '/apis', '/products', '/signin', '/signup', '/signup/resend', '/password-reset', '/setup'], {
    '/signin': { email: DEV.email, password: DEV.password }
  })
  const developer = await signedInClient(app, DEV)
  requests += await fuzzPages(t, developer, ['/', '/apis', `/apis/${api.id}`, '/products', `/products/${product.id}`, '/subscriptions', `/subscriptions/${subscription.id}/cancel`, `/subscriptions/${subscription.id}/usage`, `/subscriptions/${subscription.id}/usage.csv`, '/profile', '/profile/close', '/profile/mfa', '/organisations', '/signin'], {
    '/profile/close': { password: 'not the password at all' }
  })
  // The administrator uses two-step sign-in: a fuzzed settings form that turns requireAdminMfa on
  // must not send every later request to /profile/mfa before its input is checked.
  const enrolment = await app.services.mfa.beginEnrolment(admin)
  await app.services.mfa.confirmEnrolment(admin, generateSync({ secret: enrolment.secret }), actor)
  const publisher = new Client(app)
  await publisher.signIn(ADMIN.email, ADMIN.password)
  await publisher.post('/signin/mfa', { code: generateSync({ secret: enrolment.secret, epoch: Math.floor(Date.now() / 1000) + 30 }) })
  await publisher.get('/admin')
  requests += await fuzzPages(t, publisher, [
    '/admin', '/admin/developers', '/admin/developers/new', `/admin/developers/${dev.id}`, '/admin/invitations', '/admin/invitations/new',
    '/admin/groups', `/admin/groups/${group.id}`, '/admin/emails', '/admin/email-templates', '/admin/email-templates/invitation', '/admin/audit', '/admin/settings',
    '/admin/apis', '/admin/apis/new', `/admin/apis/${api.id}`, `/admin/apis/${api.id}/reference`, '/admin/products', '/admin/products/new', `/admin/products/${product.id}`,
    `/admin/products/${product.id}/delete`, '/admin/subscriptions', `/admin/subscriptions/${subscription.id}`, '/admin/analytics', '/admin/analytics.csv', '/admin/identity', '/admin/identity/new', '/admin/organisations', '/admin/organisations/new'
  ])
  // Ids and tokens in paths.
  const wellFormed = (text: string): boolean => { try { encodeURIComponent(text); return true } catch { return false } }
  for (const payload of PAYLOADS.filter((p): p is string => typeof p === 'string' && wellFormed(p))) {
    for (const path of ['/admin/developers/', '/admin/groups/', '/admin/emails/', '/admin/email-templates/', '/invitations/', '/confirm/', '/password-reset/', '/profile/email/',
      '/admin/apis/', '/admin/products/', '/admin/subscriptions/', '/apis/', '/products/', '/subscriptions/', '/admin/identity/', '/signin/oidc/', '/organisations/', '/organisations/join/', '/admin/organisations/']) {
      const answer = await publisher.get(path + encodeURIComponent(payload))
      requests++
      if (answer.statusCode >= 500) t.fail(`GET ${path}${JSON.stringify(payload).slice(0, 40)}: ${answer.statusCode}`)
    }
  }
  // An API anyone may call, on a loopback backend: hostile calls are forwarded too.
  const backend = await startBackend(t)
  const echo = await app.services.apis.createApi({ name: 'Echo', path: 'echo', serviceUrl: backend.url, description: '', openapi: '' }, actor)
  await productFor(app, actor, { name: 'Open echo', subscriptionRequired: false }, [echo.id])
  // The gateway: hostile paths, keys, query strings and headers are refused with JSON, never a 500.
  for (const payload of PAYLOADS.filter((p): p is string => typeof p === 'string')) {
    const escaped = wellFormed(payload) ? encodeURIComponent(payload) : 'x'
    for (const [url, headers] of [
      [`/gateway/pets/${escaped}`, {}],
      [`/gateway/${escaped}/x`, {}],
      [`/gateway/pets/x?subscription-key=${escaped}&${escaped}=1`, {}],
      ['/gateway/pets/x', { 'ocp-apim-subscription-key': payload.replace(/[^\x20-\x7e]/g, '?') }],
      ['/gateway/pets/x', { 'x-forwarded-for': payload.replace(/[^\x20-\x7e]/g, '?') }],
      [`/gateway/echo/${escaped}?${escaped}=${escaped}`, { 'x-forwarded-for': payload.replace(/[^\x20-\x7e]/g, '?'), connection: 'keep-alive, x-a', 'keep-alive': 'timeout=5', te: 'trailers', 'x-a': '1', cookie: `portico_session=${escaped}; a=b` }]
    ] as const) {
      const answer = await app.inject({ method: 'POST', url, headers: { 'content-type': payload.slice(0, 50).replace(/[^\x20-\x7e]/g, '?') || 'text/plain', ...headers }, payload })
      requests++
      if (answer.statusCode >= 500 || !answer.headers['content-type']?.toString().startsWith('application/json')) t.fail(`gateway ${url.slice(0, 60)}: ${answer.statusCode} ${answer.body.slice(0, 80)}`)
    }
  }
  t.ok(requests > 2000, `${requests} hostile requests`)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'still serving')
})

t.test('the management API: a NUL byte in any query, path or body, and a body nested 5,000 deep, get 400 on every route', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  const publisher = await signedInClient(app, ADMIN)
  await publisher.get('/admin/api-tokens')
  const token = /<code>(ptk_[A-Za-z0-9_-]+)<\/code>/.exec((await publisher.post('/admin/api-tokens', { name: 'fuzz', expiresInDays: '' })).body)?.[1] ?? ''
  // API 1 exists, so its document route reaches the document's own checks.
  await app.services.apis.createApi({ name: 'Fuzz', path: 'fuzz', serviceUrl: 'https://backend.example', description: '', openapi: '' }, { id: null, label: 'test', ip: null })
  const doc = JSON.parse((await app.inject({ url: '/api/v1/openapi.json' })).body) as { paths: Record<string, Record<string, { parameters?: Array<{ in: string, name: string }> }>> }
  const send = async (method: string, url: string, payload?: string) => await app.inject({
    method: method as 'GET', url, payload, headers: { authorization: `Bearer ${token}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) }
  })
  let routes = 0
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const url = path.replace(/\{[^}]+\}/g, '1')
      const queries = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
      for (const name of queries.length > 0 ? queries : ['q']) {
        const res = await send(method, `${url}?${name}=%00`)
        t.ok(res.statusCode === 400 && NUL_MESSAGE.test(res.body), `${method.toUpperCase()} ${path}?${name}=%00: ${res.statusCode}`)
      }
      if (path.includes('{')) {
        const res = await send(method, path.replace(/\{[^}]+\}/, '%00').replace(/\{[^}]+\}/g, '1'))
        t.ok(res.statusCode === 400 && NUL_MESSAGE.test(res.body), `${method.toUpperCase()} ${path} with a NUL in the path: ${res.statusCode}`)
      }
      if (path.endsWith('/openapi') && method === 'put') {
        // This body is the document itself, read by the import (in its worker) with the form's checks.
        const nul = await send(method, url, JSON.stringify({ openapi: '3.1.0', info: { title: 'x\u0000', version: '1' }, paths: {} }))
        t.ok(nul.statusCode === 400 && /holds a NUL character/.test(nul.body), `${method.toUpperCase()} ${path} with a NUL in the document: ${nul.statusCode}`)
        const raw = await send(method, url, 'openapi: 3.1.0\u0000')
        t.ok(raw.statusCode === 400 && NUL_MESSAGE.test(raw.body), `${method.toUpperCase()} ${path} with a NUL byte in the text: ${raw.statusCode}`)
        const deep = await send(method, url, `{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{},"x":${DEEP}}`)
        t.ok(deep.statusCode === 400 && DEEP_MESSAGE.test(deep.body), `${method.toUpperCase()} ${path} nested 5,000 deep: ${deep.statusCode}`)
      } else if (method === 'post' || method === 'put') {
        const nul = await send(method, url, JSON.stringify({ name: 'x\u0000', description: '\u0000', email: 'a\u0000@example.com', reason: '\u0000', displayName: '\u0000' }))
        t.ok(nul.statusCode === 400 && NUL_MESSAGE.test(nul.body), `${method.toUpperCase()} ${path} with NULs in the body: ${nul.statusCode}`)
        const deep = await send(method, url, `{"name":${DEEP}}`)
        t.ok(deep.statusCode === 400 && DEEP_MESSAGE.test(deep.body), `${method.toUpperCase()} ${path} nested 5,000 deep: ${deep.statusCode}`)
      }
      routes++
    }
  }
  t.equal(routes, 51)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'still serving')
})
