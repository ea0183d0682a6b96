import t, { type Test } from 'tap'
import { ADMIN, DEV, makeApp, signedInClient } from '../../helpers'
import { gatewayWorld, startBackend, SYSTEM } from '../../fixtures/gateway'
import { productFor } from '../../fixtures/catalog'

async function setup (t: Test) {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url, { quotaCalls: '100', quotaPeriod: 'week' })
  const call = async (path: string, key: string | null = world.primary) =>
    await app.inject({ url: `/gateway/${path}`, headers: key === null ? {} : { 'ocp-apim-subscription-key': key } })
  for (let i = 0; i < 3; i++) await call('books/x')
  await call('books/missing') // the backend's 404: an error
  await call('books/x', null) // refused: missing key
  await call('books/x', 'bad-key') // refused: invalid key
  await app.services.gateway.flush()
  return { app, world, call, admin: await signedInClient(app, ADMIN) }
}

t.test('/admin/analytics: totals, an SVG chart per day and its table twin, by API, product and developer, and who is refused', async (t) => {
  const { world, admin } = await setup(t)
  const page = await admin.get('/admin/analytics')
  t.equal(page.statusCode, 200)
  const today = new Date().toISOString().slice(0, 10)
  t.match(page.body, /<li><strong>6<\/strong> calls<\/li>/)
  t.match(page.body, /<li><strong>3<\/strong> errors \(4xx, 5xx\)<\/li>/, 'the backend\'s 404 and the two refusals')
  t.match(page.body, /<li><strong>2<\/strong> refused by the gateway<\/li>/)
  t.match(page.body, /<svg class="chart-svg"[^>]*role="img" aria-labelledby="calls-chart-title calls-chart-desc"/)
  t.match(page.body, new RegExp(`<rect class="chart-bar"[^>]*><title>${today.slice(5)}: 6, 3 errors</title>`), 'today\'s bar')
  t.match(page.body, new RegExp(`<th scope="row" data-label="Day">${today}</th><td data-label="Calls">6</td><td data-label="Errors">3</td><td data-label="Refused">2</td>`), 'and its row')
  t.match(page.body, new RegExp(`<a href="/admin/apis/${world.apiId}">Books</a>`))
  t.match(page.body, new RegExp(`<a href="/admin/products/${world.productId}">Books plan</a>`))
  t.match(page.body, new RegExp(`<a href="/admin/developers/${world.dev.id}">${world.dev.email}</a>`))
  t.match(page.body, /<td data-label="Reason">Missing key<\/td>\s*<td data-label="Developer">No key, or an unknown key<\/td>/)
  t.match(page.body, /<td data-label="Reason">Invalid key<\/td>/)
  t.notMatch(page.body, /<script/i)
  t.notMatch(page.body, /style="/, 'no inline style (the CSP allows none): the chart is styled from the stylesheet')
  t.equal((page.body.match(/<tr><th scope="row" data-label="Day">/g) ?? []).length, 7, 'the last 7 days by default')
})

t.test('/admin/analytics filters by range, API, product and developer', async (t) => {
  const { app, world, admin, call } = await setup(t)
  const other = await app.services.apis.createApi({ name: 'Maps', path: 'maps', serviceUrl: 'http://127.0.0.1:9', description: '', openapi: '' }, SYSTEM)
  await productFor(app, SYSTEM, { name: 'Open maps', subscriptionRequired: false }, [other.id])
  await call('maps/tile', null)
  await app.services.gateway.flush()
  const total = (body: string) => Number(/<li><strong>([\d,]+)<\/strong> calls<\/li>/.exec(body)?.[1].replace(/,/g, ''))
  t.equal(total((await admin.get('/admin/analytics')).body), 7)
  t.equal(total((await admin.get(`/admin/analytics?api=${world.apiId}`)).body), 6, 'the Books API: its calls, including those refused for their key')
  t.equal(total((await admin.get(`/admin/analytics?product=${world.productId}`)).body), 4)
  t.equal(total((await admin.get(`/admin/analytics?developer=${encodeURIComponent(DEV.email.toUpperCase())}`)).body), 4, 'by email, any case')
  t.equal(total((await admin.get('/admin/analytics?developer=nobody')).body), 0)
  const old = await admin.get('/admin/analytics?from=2020-01-01&to=2020-01-31')
  t.equal(old.statusCode, 200)
  t.match(old.body, /No calls in this range/)
  t.equal((old.body.match(/data-label="Day"/g) ?? []).length, 0, 'no table when nothing was called')
})

t.test('/admin/analytics: a bad range is a 400 with the message beside the field, the input kept', async (t) => {
  const { admin } = await setup(t)
  for (const [query, field, message] of [
    ['from=yesterday', 'from', 'Enter the first day as a date'],
    ['to=2026-02-30', 'to', 'Enter the last day as a date'],
    ['from=2026-05-02&to=2026-05-01', 'from', 'The first day must come before the last one'],
    ['from=2020-01-01&to=2026-01-01', 'from', 'Choose at most 366 days']
  ]) {
    const page = await admin.get(`/admin/analytics?${query}`)
    t.equal(page.statusCode, 400, query)
    t.match(page.body, new RegExp(`<p class="error" id="${field}-error"><span class="visually-hidden">Error: </span>${message}`))
    t.match(page.body, new RegExp(`<input id="${field}" name="${field}" type="date" value="${new URLSearchParams(query).get(field) ?? ''}"`), 'the input kept')
    t.match(page.body, /<title>Error: Analytics/)
  }
  t.equal((await admin.get('/admin/analytics?api=abc')).statusCode, 200, 'an id that is not one is ignored, as on the other lists')
})

t.test('usage this period on the developer\'s /subscriptions and the subscription\'s admin page', async (t) => {
  const { app, world, admin } = await setup(t)
  const developer = await signedInClient(app, DEV)
  const mine = await developer.get('/subscriptions')
  t.match(mine.body, /<dt>Calls this week<\/dt><dd>4 of 100 <meter min="0" max="100" value="4"/, 'the forwarded calls count against the quota')
  const details = await admin.get(`/admin/subscriptions/${world.subscriptionId}`)
  t.match(details.body, /Calls this week: <strong>4<\/strong> of 100/)
  t.match(details.body, /4 calls in the last 30 days, 1 of them errors and 0 refused by the gateway/)
  const empty = await app.services.subscriptions.subscribeOnBehalf(world.dev.id, { productId: world.productId, displayName: 'Unused' }, SYSTEM)
  t.match((await admin.get(`/admin/subscriptions/${empty.id}`)).body, /No calls with this subscription's keys in the last 30 days/)
})
