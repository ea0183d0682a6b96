// Every page and error state, audited as an outside accessibility check would: axe-core (WCAG 2.2
// A/AA) at 320 and 1280 px, no sideways scrolling on a phone, a skip link, an error summary on
// error states, hints tied to their fields, column headers kept for assistive technology.
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { ADMIN, DEV, createAdmin, createDeveloper, makeApp } from '../helpers'
import { unsealBodies } from '../../src/services/mail/outbox'
import { LIBRARY_JSON } from '../fixtures/openapi'
import { launchBrowser, listen, screenshot, signInAs } from './browser'
import { productFor } from '../fixtures/catalog'
import { startBackend } from '../fixtures/gateway'
import { startOidcProvider } from '../fixtures/oidc'
import { generateSync } from 'otplib'

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
const LONG = 'Maximiliana-Konstantinopolitanische'
const LONG_EMAIL = 'maximiliana.konstantinopolitanische.entwicklungsabteilung@research-and-development.example.com'

interface Violation { id: string, help: string, nodes: Array<{ target: string[] }> }

interface PageFacts {
  sideways: number
  skipLink: boolean
  untiedHints: string[]
  hiddenHeads: number
  headCells: number
  tables: number
  summary: boolean
  title: string
}

// Code run in the page is kept as text, so the server's type-check never sees browser (DOM) types.
const RUN_AXE = `window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
  .then((result) => result.violations)`

const PAGE_FACTS = `(() => {
  const describedBy = new Set([...document.querySelectorAll('[aria-describedby]')].flatMap((el) => (el.getAttribute('aria-describedby') || '').split(/\\s+/)))
  const hidden = (el) => getComputedStyle(el).display === 'none' || getComputedStyle(el).visibility === 'hidden'
  return {
    sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    skipLink: document.querySelector('body > a.skip-link[href="#main"]') !== null && document.getElementById('main') !== null,
    untiedHints: [...document.querySelectorAll('.field .hint, fieldset .hint')].filter((hint) => !describedBy.has(hint.id)).map((hint) => hint.textContent),
    hiddenHeads: [...document.querySelectorAll('table thead')].filter(hidden).length,
    headCells: document.querySelectorAll('table thead th').length,
    tables: document.querySelectorAll('table').length,
    summary: document.querySelector('.error-summary') !== null,
    title: document.title
  }
})()`

// Layout at 1280 px: words broken inside table cells (each cell's rendered lines against its words:
// a line may end only at a space, after / or -, or before @ or .), the menus' lines and height, and
// every input kind drawn like the text input.
const LAYOUT_FACTS = `(() => {
  const brokenWords = []
  for (const cell of document.querySelectorAll('table td, table th')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
      const text = node.textContent || ''
      let lastTop = null
      const range = document.createRange()
      for (let i = 0; i < text.length; i++) {
        if (/\\s/.test(text[i])) continue
        range.setStart(node, i)
        range.setEnd(node, i + 1)
        const rect = range.getClientRects()[0]
        if (rect === undefined) continue
        if (lastTop !== null && rect.top > lastTop + 2) {
          const before = text.slice(0, i).replace(/\\s+$/, '')
          const prev = before[before.length - 1]
          const atSpace = before.length < i
          if (!atSpace && !/[\\/-]/.test(prev || '') && !/[@.]/.test(text[i])) brokenWords.push(text.slice(Math.max(0, i - 12), i) + '|' + text.slice(i, i + 12))
        }
        lastTop = rect.top
      }
    }
  }
  const lines = (nav) => nav === null ? 0 : new Set([...nav.querySelectorAll('a, button')].map((el) => Math.round(el.getBoundingClientRect().top))).size
  const top = document.querySelector('header.topbar nav')
  const sub = document.querySelector('nav.subnav')
  const header = document.querySelector('header.topbar')
  const probe = document.createElement('input')
  probe.type = 'text'
  document.querySelector('main').appendChild(probe)
  // A field in error has the error's border colour; everything else is the same.
  const probeColor = getComputedStyle(probe).borderTopColor
  const look = (el) => { const c = getComputedStyle(el); return [c.borderTopWidth, c.borderTopStyle, el.closest('.has-error') || el.getAttribute('aria-invalid') === 'true' ? probeColor : c.borderTopColor, c.borderRadius, c.fontSize, c.fontFamily].join(' ') }
  const expected = look(probe)
  const expectedFamily = getComputedStyle(probe).fontFamily
  probe.remove()
  const unstyled = []
  for (const el of document.querySelectorAll('main input, main select, main textarea')) {
    if (['hidden', 'checkbox', 'radio', 'submit', 'button'].includes(el.type)) continue
    if (el.matches('textarea.code')) {
      const c = getComputedStyle(el)
      if (!/monospace/.test(c.fontFamily) || c.borderTopWidth !== getComputedStyle(document.querySelector('main textarea.code')).borderTopWidth) unstyled.push('textarea.code#' + el.id)
      continue
    }
    if (look(el) !== expected) unstyled.push(el.tagName.toLowerCase() + '[type=' + (el.type || '') + ']#' + (el.id || el.name) + ': ' + look(el) + ' (want ' + expected + ')')
    if (el.tagName === 'TEXTAREA' && getComputedStyle(el).fontFamily !== expectedFamily) unstyled.push('prose textarea#' + el.id + ' not in the body font')
  }
  return { brokenWords, topLines: lines(top), subLines: lines(sub), navHeight: (header ? header.offsetHeight : 0) + (sub ? sub.offsetHeight : 0), unstyled }
})()`

interface LayoutFacts { brokenWords: string[], topLines: number, subLines: number, navHeight: number, unstyled: string[] }

/** The menus' height per kind of visitor, from every page audited: one height each means it never jumps. */
const navHeights = new Map<string, Map<number, string>>()

const FOCUSED = `(() => {
  const active = document.activeElement
  const style = active === null ? null : getComputedStyle(active)
  return { skip: active !== null && active.classList.contains('skip-link'), background: style && style.backgroundColor, shadow: style && style.boxShadow }
})()`

async function audit (t: Test, page: Page, label: string, options: { errorState?: boolean } = {}): Promise<void> {
  // After a form's submit the next page may still be loading its stylesheet: axe measures touch
  // targets, which an unstyled page fails.
  await page.waitForLoadState('load')
  for (const width of [1280, 320]) {
    await page.setViewportSize({ width, height: 800 })
    const at = `${label} at ${width} px`
    await page.addScriptTag({ content: AXE })
    const violations = await page.evaluate(RUN_AXE) as Violation[]
    t.same(violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `${at}: no axe violations`)
    const facts = await page.evaluate(PAGE_FACTS) as PageFacts
    t.ok(facts.sideways <= 0, `${at}: no sideways scroll (${facts.sideways} px)`)
    t.ok(facts.skipLink, `${at}: a skip link to the main content`)
    if (options.errorState === true) {
      t.ok(facts.summary, `${at}: an error summary`)
      t.match(facts.title, /^Error: /, `${at}: the title starts with "Error: "`)
    }
    t.same(facts.untiedHints, [], `${at}: every hint is tied to its field`)
    t.equal(facts.hiddenHeads, 0, `${at}: column headers stay for assistive technology`)
    if (facts.tables > 0) t.ok(facts.headCells > 0, `${at}: tables have column headers`)
    if (width !== 1280) continue
    const layout = await page.evaluate(LAYOUT_FACTS) as LayoutFacts
    t.same(layout.brokenWords, [], `${at}: no word broken inside a table cell`)
    t.ok(layout.topLines <= 1, `${at}: the top menu on one line (${layout.topLines})`)
    t.ok(layout.subLines <= 1, `${at}: the publisher's tabs on one line (${layout.subLines})`)
    t.same(layout.unstyled, [], `${at}: every input kind styled like the text input`)
    const kind = new URL(page.url()).pathname.startsWith('/admin') ? 'publisher' : await page.evaluate('document.querySelector(\'form[action="/signout"]\') ? "signed in" : "signed out"') as string
    const heights = navHeights.get(kind) ?? new Map<number, string>()
    if (!heights.has(layout.navHeight)) heights.set(layout.navHeight, label)
    navHeights.set(kind, heights)
    // The first Tab reaches the skip link, and focus shows GOV.UK-style: yellow with a black edge.
    await page.keyboard.press('Tab')
    const focus = await page.evaluate(FOCUSED) as { skip: boolean, background: string | null, shadow: string | null }
    t.ok(focus.skip, `${at}: the first Tab reaches the skip link`)
    t.equal(focus.background, 'rgb(255, 221, 0)', `${at}: focus is yellow`)
    t.match(focus.shadow ?? '', /rgb\(11, 12, 12\)/, `${at}: with a black edge`)
    await page.evaluate('document.activeElement && document.activeElement.blur()')
  }
}

t.test('every page and error state meets the accessibility goals', async (t) => {
  const app = await makeApp(t, { RATE_LIMIT_PER_MINUTE: '10000' })
  const admin = await createAdmin(app)
  const actor = { id: admin.id, label: admin.email, ip: null }
  await app.services.settings.saveSettings({ signupEnabled: true, orgName: 'Portico', termsOfUse: 'Be kind to the APIs.\n\n- No scraping\n- No resale' }, actor)
  const dev = await createDeveloper(app, { ...DEV, firstName: LONG, lastName: LONG })
  for (let i = 0; i < 30; i++) {
    await createDeveloper(app, { firstName: `Dev${i}`, lastName: LONG, email: `${i}.${LONG_EMAIL}`, password: DEV.password })
  }
  const group = await app.services.groups.createGroup({ name: `${LONG} partners`, description: 'External partner teams' }, actor)
  await app.services.groups.addMemberByEmail(group.id, DEV.email, actor)
  await app.services.invitations.inviteDeveloper({ firstName: LONG, lastName: LONG, email: LONG_EMAIL }, actor)
  const invitation = await app.db('outbox_emails').where('template', 'invitation').first()
  const token = /invitations\/([A-Za-z0-9_-]{43})/.exec(unsealBodies(invitation, app.services.linkSealer)?.text ?? '')?.[1] ?? ''
  const emailId = (await app.db('outbox_emails').first('id')).id as number
  // The catalog: the demanding Library reference, a product with terms, a subscription with keys.
  const backend = await startBackend(t)
  const api = await app.services.apis.createApi({ name: `${LONG} library`, path: 'library/v2', serviceUrl: `${backend.url}/v2`, description: 'Books and loans.', openapi: LIBRARY_JSON }, actor)
  const product = await productFor(app, actor, {
    name: `${LONG} gold`, description: 'Everything, kindly.', approvalRequired: true, terms: 'Be kind to the APIs.', rateLimitCalls: '5', rateLimitPeriod: '60', quotaCalls: '100', quotaPeriod: 'week'
  }, [api.id])
  const subscription = await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: `${LONG} app` }, actor)
  // An active subscription too, so the reference's samples carry a key and "Try it" is offered.
  const open = await productFor(app, actor, { name: `${LONG} starter` }, [api.id])
  const trial = await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: open.id, displayName: `${LONG} trial` }, actor)
  const referencePages = [`/apis?q=opening`, `/apis/${api.id}/tags/Books`, `/apis/${api.id}/operations/createBook`, `/apis/${api.id}/operations/openingHours`,
    `/apis/${api.id}/schemas`, `/apis/${api.id}/schemas/Book`, `/apis/${api.id}/search?q=book`, `/apis/${api.id}/search?q=nothing-at-all`]

  // A CSV import whose run stopped halfway (its page offers to resume it), and one that ran.
  const importFile = (email: string) => Buffer.from(`email,firstName,lastName,groups\n${email},${LONG},${LONG},${LONG} partners\nbad,,,\n`)
  const stalled = await app.services.csvImport.preview(importFile(`imported.${LONG_EMAIL}`), 'people.csv', 'invite', { ...actor, id: admin.id })
  await app.db('csv_imports').where('id', stalled.id).update({ status: 'running', heartbeat_at: '2000-01-01T00:00:00.000Z' })
  const ran = await app.services.csvImport.preview(importFile(`ran.${LONG_EMAIL}`), 'people.csv', 'create', { ...actor, id: admin.id })
  await (await app.services.csvImport.start(ran.id ?? 0, actor)).run

  // Calls for /admin/analytics to draw: refused ones (the subscription awaits approval, one has no key).
  for (const headers of [{}, { 'ocp-apim-subscription-key': 'f'.repeat(32) }]) await app.inject({ url: '/gateway/library/v2/books', headers })
  // And forwarded ones with the trial's key, for its usage page (matched to operations of the document).
  const trialKey = (await app.services.subscriptions.listOwn(dev.id)).find((s) => s.id === trial.id)?.keys.primary ?? ''
  for (const path of ['books', 'books/1', 'books/missing']) await app.inject({ url: `/gateway/library/v2/${path}`, headers: { 'ocp-apim-subscription-key': trialKey } })
  await app.services.gateway.flush()

  // Single sign-on and two-step sign-in: a provider (a real one, on loopback), and a developer who uses TOTP.
  const idp = await startOidcProvider(t, 'http://localhost:3000')
  const provider = await app.services.providers.createProvider({
    name: `${LONG} SSO`, issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, scopes: '', groupsClaim: 'groups', groupMap: `partners = ${LONG} partners`, createAccounts: true, allowedDomains: 'example.com', enabled: true, localMfa: false
  }, actor)
  const totpUser = { firstName: 'Tia', lastName: LONG, email: 'tia@example.com', password: DEV.password }
  const tia = await createDeveloper(app, totpUser)
  const enrolment = await app.services.mfa.beginEnrolment(tia)
  await app.services.mfa.confirmEnrolment(tia, generateSync({ secret: enrolment.secret }), actor)
  const nextCode = (): string => generateSync({ secret: enrolment.secret, epoch: Math.floor(Date.now() / 1000) + 30 })
  // An organisation the developer owns, with Tia invited to join by link.
  const organisation = await app.services.organisations.createOrganisation(dev, { name: `${LONG} team`, description: 'Builds the library app.' }, actor)
  await app.services.organisations.invite(organisation.id, dev, totpUser.email, actor)
  const joinToken = /organisations\/join\/([A-Za-z0-9_-]{43})/.exec(unsealBodies(await app.db('outbox_emails').where('template', 'organisation-invitation').first(), app.services.linkSealer)?.text ?? '')?.[1] ?? ''

  const base = await listen(app)
  const browser = await launchBrowser(t)
  // JavaScript on only so axe can run; the pages have none. The CSP is bypassed for the audit alone.
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  const titles = new Map<string, string>()
  const visit = async (path: string, label = path): Promise<void> => {
    await page.goto(`${base}${path}`)
    titles.set(path, await page.title())
    await audit(t, page, label)
  }
  const submit = async (path: string, fields: Record<string, string>, label: string, button = 'main button[type=submit]'): Promise<void> => {
    await page.goto(`${base}${path}`)
    for (const [selector, value] of Object.entries(fields)) await page.fill(selector, value)
    await page.click(button)
    await audit(t, page, label, { errorState: true })
  }

  // Signed out.
  for (const path of ['/', '/signin', '/signup', '/signup/resend', '/password-reset', `/invitations/${token}`, '/apis', '/products']) await visit(path)
  await submit('/signin', { '#email': DEV.email, '#password': 'not the password at all' }, 'sign-in refused', 'form[action="/signin"] button')
  await page.goto(`${base}/signin/oidc/${provider.id}/callback?code=x&state=y`)
  titles.set('provider sign-in refused', await page.title())
  await audit(t, page, 'a provider sign-in that did not complete')
  // The second step of a sign-in: the page, a wrong code, then the right one.
  await signInAs(page, base, totpUser)
  titles.set('/signin/mfa', await page.title())
  await audit(t, page, '/signin/mfa')
  await submit('/signin/mfa', { '#code': '000000' }, 'a wrong sign-in code')
  await page.fill('#code', nextCode())
  await page.click('main button[type=submit]')
  await visit(`/organisations/join/${joinToken}`, 'joining an organisation')
  await visit('/profile/mfa', 'two-step sign-in on')
  await page.click('form[action="/profile/mfa/recovery-codes"] button')
  titles.set('recovery codes', await page.title())
  await audit(t, page, 'new recovery codes')
  await submit('/profile/mfa', { '#disable-password': 'not my password at all', '#disable-code': '000000' }, 'turning two-step sign-in off refused', 'form[action="/profile/mfa/disable"] button')
  await context.clearCookies()
  await submit('/signup', {}, 'sign-up with nothing filled in')
  await submit(`/invitations/${token}`, { '#password': 'short' }, 'invitation with a short password')
  await page.setViewportSize({ width: 320, height: 800 })
  await page.goto(`${base}/signup`)
  await page.click('main button[type=submit]')
  await screenshot(page, 'a11y-signup-errors-320', false)

  // A developer.
  await signInAs(page, base, DEV)
  for (const path of ['/', '/profile', '/profile/close', '/apis', `/apis/${api.id}`, '/products', `/products/${product.id}`, '/subscriptions', `/subscriptions/${subscription.id}/cancel`,
    `/subscriptions/${trial.id}/usage`, `/subscriptions/${trial.id}/regenerate?key=secondary`]) await visit(path)
  await visit('/profile/mfa', 'two-step sign-in: enrolment')
  await visit('/organisations')
  await visit(`/organisations/${organisation.id}`)
  await visit(`/organisations/${organisation.id}/leave`)
  await submit('/organisations', { '#name': '' }, 'creating an organisation with no name', 'form[action="/organisations"] button')
  await submit(`/organisations/${organisation.id}`, { '#email': 'not an email' }, 'inviting a bad address', 'form[action$="/invitations"] button')
  await submit('/profile/mfa', { '#code': '000000' }, 'enrolment with a wrong code')
  for (const path of referencePages) await visit(path)
  await page.goto(`${base}/subscriptions/${trial.id}/usage?from=2026-05-02&to=2026-05-01`)
  await audit(t, page, 'usage with a range that ends before it starts', { errorState: true })
  await page.goto(`${base}/subscriptions/${trial.id}/usage`)
  await screenshot(page, 'a11y-usage-320', false)
  await page.goto(`${base}/apis/${api.id}/operations/openingHours`)
  await page.fill('#try-p1', 'central')
  await page.click('button:has-text("Send the request")')
  titles.set('try-it answer', await page.title())
  await audit(t, page, 'a try-it answer')
  await submit(`/apis/${api.id}/operations/openingHours`, { '#try-p1': '' }, 'try it with a required parameter empty', 'button:has-text("Send the request")')
  await submit(`/products/${product.id}`, {}, 'subscribing with no name and the terms unticked')
  await submit('/profile', { '#currentPassword': 'not my password at all', '#newPassword': 'another fine passphrase' }, 'password change refused', 'form[action="/profile/password"] button')
  await context.clearCookies()

  // An administrator.
  await signInAs(page, base, ADMIN)
  for (const path of [
    '/admin', '/admin/developers', '/admin/developers?page=2', '/admin/developers/new', `/admin/developers/${dev.id}`, `/admin/developers/${dev.id}/delete`,
    '/admin/invitations', '/admin/invitations/new', '/admin/groups', `/admin/groups/${group.id}`, '/admin/emails', `/admin/emails/${emailId}`,
    '/admin/email-templates', '/admin/email-templates/invitation', '/admin/audit', '/admin/settings',
    '/admin/apis', '/admin/apis/new', `/admin/apis/${api.id}`, `/admin/apis/${api.id}/delete`, '/admin/products', '/admin/products/new', `/admin/products/${product.id}`,
    `/admin/products/${product.id}/delete`, '/admin/subscriptions', `/admin/subscriptions/${subscription.id}`, `/admin/subscriptions/${subscription.id}/cancel`,
    `/admin/subscriptions/${trial.id}/regenerate?key=primary`,
    `/admin/apis/${api.id}/reference`, `/admin/apis/${api.id}/reference/operations/getBook`, '/admin/analytics', '/admin/api-tokens', '/admin/developers/import', `/admin/developers/import/${stalled.id ?? 0}`, `/admin/developers/import/${ran.id ?? 0}`, '/apis/management',
    '/admin/identity', '/admin/identity/new', `/admin/identity/${provider.id}`, `/admin/identity/${provider.id}/delete`, `/admin/developers/${tia.id}`, `/admin/developers/${tia.id}/mfa/reset`,
    '/admin/organisations', '/admin/organisations/new', `/admin/organisations/${organisation.id}`, `/admin/organisations/${organisation.id}/delete`, `/admin/subscriptions?organisation=${organisation.id}`
  ]) await visit(path)
  await submit('/admin/organisations/new', { '#ownerEmail': 'nobody@example.com' }, 'an organisation with no name and an unknown owner')
  await submit(`/admin/organisations/${organisation.id}`, {}, 'subscribing an organisation to no product', 'form[action$="/subscriptions"] button')
  await submit('/admin/identity/new', { '#issuer': 'ftp://nowhere' }, 'an identity provider with nothing filled in')
  await page.goto(`${base}/admin/developers/import`)
  await page.setInputFiles('#file', { name: 'people.csv', mimeType: 'text/csv', buffer: importFile(`previewed.${LONG_EMAIL}`) })
  await page.click('main button[type=submit]')
  titles.set('import preview', await page.title())
  await audit(t, page, 'an import\'s preview, with an invalid line')
  await submit('/admin/api-tokens', { '#name': '', '#expiresInDays': 'soon' }, 'an API token with no name and a bad expiry')
  await submit('/admin/developers', {}, 'a bulk action with nothing selected', 'form.bulk button.primary')
  await page.goto(`${base}/admin/analytics?from=2026-05-02&to=2026-05-01`)
  await audit(t, page, 'analytics with a range that ends before it starts', { errorState: true })
  await submit('/admin/apis/new', { '#openapi': 'swagger: "2.0"' }, 'an API with nothing filled in and a Swagger 2.0 document')
  await submit('/admin/products/new', { '#name': '', '#quotaCalls': 'lots' }, 'a product with no name and a bad quota')
  await submit('/admin/developers/new', {}, 'add user with nothing filled in')
  await submit('/admin/invitations/new', { '#email': 'not an email' }, 'invite with a bad email')
  await submit('/admin/groups', {}, 'new group with no name')
  await submit(`/admin/groups/${group.id}`, { '#email': 'nobody@example.com' }, 'adding an unknown member', 'form[action$="/members"] button')
  await submit('/admin/settings', { '#orgName': '' }, 'settings with no organisation name')
  await submit('/admin/email-templates/invitation', { '#subject': '' }, 'template with no subject')

  // The menus never change height between pages.
  for (const [kind, heights] of navHeights) {
    t.equal(heights.size, 1, `${kind}: the menus are as high on every page (${[...heights].map(([h, label]) => `${h} px on ${label}`).join(', ')})`)
  }

  // Every page says what it is: no two pages share a title.
  const seen = new Map<string, string>()
  for (const [path, title] of titles) {
    t.notOk(seen.has(title), `"${title}" (${path}) is not also the title of ${seen.get(title) ?? 'another page'}`)
    seen.set(title, path)
  }

  // What a person checks at 1280 and 768 px: the home, the tabs, a wide table.
  for (const width of [1280, 768]) {
    await page.setViewportSize({ width, height: 900 })
    for (const [path, name] of [['/admin', 'home'], ['/admin/developers', 'developers'], ['/admin/emails', 'emails']]) {
      await page.goto(`${base}${path}`)
      await screenshot(page, `a11y-${name}-${width}`, false)
    }
  }

  // What a person checks at 320 px.
  await page.setViewportSize({ width: 320, height: 800 })
  for (const [path, name] of [['/admin', 'home'], ['/admin/developers', 'developers'], [`/admin/developers/${dev.id}`, 'developer'], ['/admin/invitations', 'invitations'],
    [`/apis/${api.id}`, 'api-reference'], [`/apis/${api.id}/operations/createBook`, 'api-operation'], ['/admin/subscriptions', 'subscriptions'], [`/admin/products/${product.id}`, 'product'], ['/admin/analytics', 'analytics'],
    [`/admin/developers/import/${stalled.id ?? 0}`, 'import-stalled']]) {
    await page.goto(`${base}${path}`)
    await screenshot(page, `a11y-${name}-320`, false)
  }
})
