import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

export const SCREENSHOTS = join(__dirname, 'screenshots')

interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** Debian's chromium, headless, JavaScript off: every flow must work without scripts. */
export async function launchBrowser (t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  t.teardown(async () => await browser.close())
  return browser
}

/** The app listening on a free loopback port; returns its base URL. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return `http://127.0.0.1:${port}`
}

export async function newPage (browser: Browser, viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext, page: Page }> {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport })
  return { context, page: await context.newPage() }
}

/**
 * A picture of the page for people to look at (not an assertion), taken once the page has loaded:
 * a capture that starts while a form's answer is still arriving can fail in Chromium ("Unable to
 * capture screenshot"), and then it is taken once more.
 */
export async function screenshot (page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.waitForLoadState('load')
  const path = join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path, fullPage }).catch(async (err: unknown) => {
    if (!String(err).includes('Unable to capture screenshot')) throw err
    await page.waitForLoadState('load')
    await page.screenshot({ path, fullPage })
  })
}

/** Signs in through the form, as a person would. */
export async function signInAs (page: Page, base: string, who: { email: string, password: string }): Promise<void> {
  await page.goto(`${base}/signin`)
  await page.fill('#email', who.email)
  await page.fill('#password', who.password)
  await page.click('form[action="/signin"] button[type=submit]')
}
