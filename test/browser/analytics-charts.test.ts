import t from 'tap'
import { ADMIN, makeApp } from '../helpers'
import { gatewayWorld, startBackend } from '../fixtures/gateway'
import { launchBrowser, listen, newPage, screenshot, signInAs } from './browser'

t.test('JavaScript off: after calls through the gateway, /admin/analytics shows them in its chart and its table', async (t) => {
  const backend = await startBackend(t)
  const app = await makeApp(t)
  const world = await gatewayWorld(app, backend.url)
  const base = await listen(app)
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${base}/gateway/books/shelves`, { headers: { 'ocp-apim-subscription-key': world.primary } })
    t.equal(res.status, 200)
  }
  t.equal((await fetch(`${base}/gateway/books/shelves`)).status, 401)
  await app.services.gateway.flush()

  const browser = await launchBrowser(t)
  const { page } = await newPage(browser)
  await signInAs(page, base, ADMIN)
  await page.click('nav.subnav >> text=Analytics')
  t.equal(await page.textContent('h1'), 'Analytics')
  const today = new Date().toISOString().slice(0, 10)
  t.equal(await page.locator('svg.chart-svg').count(), 2, 'two charts')
  t.equal(await page.locator('#calls-chart-title').textContent(), 'Calls per day')
  t.equal(await page.locator(`svg.chart-svg rect.chart-bar >> title:text-is("${today.slice(5)}: 6, 1 errors")`).count(), 1, 'today\'s bar: six calls, one refused')
  const box = await page.locator('svg.chart-svg >> nth=0').boundingBox()
  t.ok(box !== null && box.height > 100, 'the chart is drawn')
  const row = page.locator(`table tr:has(th:text-is("${today}"))`)
  t.equal(await row.locator('td[data-label="Calls"]').textContent(), '6')
  t.equal(await row.locator('td[data-label="Refused"]').textContent(), '1')
  await screenshot(page, 'analytics-desktop')

  await page.selectOption('select[name="api"]', { label: 'Books' })
  await page.fill('input[name="developer"]', world.dev.email)
  await page.click('button:has-text("Show")')
  t.match(page.url(), /api=\d+/)
  t.equal(await page.locator('ul.totals li >> nth=0').textContent(), '5 calls', 'the developer\'s calls to Books')
})
