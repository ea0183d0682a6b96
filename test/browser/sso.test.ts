// Single sign-on and two-step sign-in in chromium with JavaScript off, against a real OpenID
// provider (oidc-provider's own HTML login and consent forms) on loopback.
import t from 'tap'
import type { Page } from 'playwright-core'
import { generateSync } from 'otplib'
import { ADMIN, DEV, countOf, createAdmin, createDeveloper, makeApp } from '../helpers'
import { freePort, startSmtp } from '../smtp'
import { startOidcProvider } from '../fixtures/oidc'
import { launchBrowser, newPage, screenshot, signInAs } from './browser'

/** At the provider: its login form (any password), then its consent form when it asks. */
async function atProvider (page: Page, login: string): Promise<void> {
  if (await page.locator('input[name="login"]').count() > 0) {
    await page.fill('input[name="login"]', login)
    await page.fill('input[name="password"]', 'any password')
    await page.click('button[type=submit]')
  }
  if (await page.locator('input[name="prompt"][value="consent"]').count() > 0) await page.click('button[type=submit]')
}

t.test('admin adds providers; developers sign in, are created, synced, linked, activated, refused; IdP-only, auto-redirect, sign-out there; TOTP', async (t) => {
  const port = await freePort()
  // The portal at localhost, the providers at 127.0.0.1: two sites, as in real life.
  const base = `http://localhost:${port}`
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { PUBLIC_URL: base, SMTP_URL: smtp.url, RATE_LIMIT_PER_MINUTE: '10000' })
  await createAdmin(app)
  await createDeveloper(app)
  await app.listen({ port, host: '127.0.0.1' })
  const alpha = await startOidcProvider(t, base, {
    alice: { email: 'alice@corp.example', email_verified: true, given_name: 'Alice', family_name: 'Liddell', groups: ['partners'] },
    dev: { email: DEV.email, email_verified: true },
    ivy: { email: 'ivy@example.com', email_verified: true },
    mallory: { email: 'mallory@corp.example', email_verified: false }
  })
  const beta = await startOidcProvider(t, base, { bob: { email: 'bob@corp.example', email_verified: true, given_name: 'Bob', family_name: 'Builder' } })
  const browser = await launchBrowser(t)

  // The administrator: a group, then Settings → Identity providers → Add, through the forms.
  const { page: admin } = await newPage(browser)
  await signInAs(admin, base, ADMIN)
  await admin.goto(`${base}/admin/groups`)
  await admin.fill('#name', 'Partners')
  await admin.click('main button[type=submit]')
  const addProvider = async (name: string, issuer: string, clientId: string, clientSecret: string, extra: (page: Page) => Promise<void> = async () => {}): Promise<void> => {
    await admin.goto(`${base}/admin/settings`)
    await admin.click('nav.section-tabs >> text=Identity providers')
    await admin.click('text=Add a provider')
    await admin.fill('#name', name)
    await admin.fill('#issuer', issuer)
    await admin.fill('#clientId', clientId)
    await admin.fill('#clientSecret', clientSecret)
    await admin.fill('#scopes', 'openid email profile groups')
    await extra(admin)
    await admin.click('button:has-text("Add provider")')
    t.match(await admin.textContent('.flash'), `${name} was added`)
  }
  await addProvider('Alpha', alpha.issuer, alpha.clientId, alpha.clientSecret, async (page) => {
    await page.check('#createAccounts')
    await page.fill('#groupsClaim', 'groups')
    await page.fill('#groupMap', 'partners = Partners')
  })
  await screenshot(admin, 'sso-provider-desktop')
  await addProvider('Beta', beta.issuer, beta.clientId, beta.clientSecret, async (page) => { await page.check('#createAccounts') })
  await admin.goto(`${base}/admin/identity`)
  t.match(await admin.textContent('table.list'), 'Alpha')
  t.match(await admin.textContent('table.list'), 'Beta')

  const signInWith = async (provider: string, login: string, viewport?: { width: number, height: number }): Promise<Page> => {
    const { page } = await newPage(browser, viewport)
    await page.goto(`${base}/signin`)
    await page.click(`button:has-text("Sign in with ${provider}")`)
    await atProvider(page, login)
    return page
  }

  // A first sign-in creates the account, in the mapped group; the welcome email goes out.
  const alice = await signInWith('Alpha', 'alice', { width: 390, height: 844 })
  t.equal(new URL(alice.url()).origin, base, 'back at the portal')
  t.ok(await alice.locator('form[action="/signout"]').count() > 0, 'signed in')
  await screenshot(alice, 'sso-signed-in-phone')
  const aliceRow = await app.db('developers').where('email_normalized', 'alice@corp.example').first()
  const groupsOf = async (id: number): Promise<string[]> => (await app.db('developer_groups').join('groups', 'groups.id', 'developer_groups.group_id').where('developer_id', id).pluck('groups.name')).sort()
  t.same(await groupsOf(aliceRow.id), ['Developers', 'Partners'])
  await smtp.waitForSubject(/Welcome/)
  // Signed out, the claim changed at the provider: the next sign-in leaves Partners.
  await alice.click('form[action="/signout"] button')
  await atProvider(alice, 'alice')
  await alice.click('button[value="yes"]').catch(() => {})
  t.match(await alice.textContent('main'), 'You have signed out', 'signed out at the provider and back at /signin')
  t.equal(alpha.endSessions(), 1)
  alpha.people.set('alice', { email: 'alice@corp.example', email_verified: true, given_name: 'Alice', family_name: 'Liddell', groups: [] })
  await alice.click('button:has-text("Sign in with Alpha")')
  await atProvider(alice, 'alice')
  t.same(await groupsOf(aliceRow.id), ['Developers'], 'the changed claim is synced')

  // An existing account is linked by its verified email; an invited one is activated.
  const dev = await signInWith('Alpha', 'dev')
  await dev.goto(`${base}/profile`)
  t.match(await dev.textContent('main'), 'dev@example.com', 'signed in as the existing account')
  await admin.goto(`${base}/admin/invitations/new`)
  await admin.fill('#firstName', 'Ivy')
  await admin.fill('#lastName', 'Invitee')
  await admin.fill('#email', 'ivy@example.com')
  await admin.click('button:has-text("Send invitation")')
  await signInWith('Alpha', 'ivy')
  t.equal((await app.db('developers').where('email_normalized', 'ivy@example.com').first()).state, 'active', 'the invitation is accepted by the provider sign-in')

  // Refusals are pages that say why.
  const mallory = await signInWith('Alpha', 'mallory')
  t.match(await mallory.textContent('h1'), 'Sign-in did not complete')
  t.match(await mallory.textContent('main'), 'has not verified the email address')
  await screenshot(mallory, 'sso-refused-desktop')

  // Two providers at once: each its own accounts.
  const bob = await signInWith('Beta', 'bob')
  t.ok(await bob.locator('form[action="/signout"]').count() > 0, 'signed in through the second provider')
  t.equal(await countOf(app.db('account_identities')), 4)

  // IdP-only and auto-redirect: Beta off, password sign-in off, auto-redirect on.
  await admin.goto(`${base}/admin/identity`)
  await admin.click('table.list >> text=Beta')
  await admin.uncheck('#enabled')
  await admin.click('button:has-text("Save provider")')
  await admin.goto(`${base}/admin/settings`)
  await admin.uncheck('#passwordSignIn')
  await admin.check('#autoRedirect')
  await admin.click('button:has-text("Save settings")')
  t.match(await admin.textContent('.flash'), 'Settings saved')
  const { page: visitor } = await newPage(browser)
  await visitor.goto(`${base}/apis`)
  await visitor.goto(`${base}/signin?next=/apis`)
  t.equal(new URL(visitor.url()).origin, alpha.issuer, 'the sign-in page goes straight to the provider')
  await atProvider(visitor, 'dev')
  t.equal(new URL(visitor.url()).pathname, '/apis', 'and back to the page asked for')
  const { page: other } = await newPage(browser)
  await other.goto(`${base}/signin?password=1`)
  t.equal(await other.locator('#password').count(), 1, 'administrators keep the password form')
  // A developer's password is refused there.
  await other.fill('#email', DEV.email)
  await other.fill('#password', DEV.password)
  await other.click('form[action="/signin"] button')
  t.match(await other.textContent('.error-summary'), 'cannot sign in', 'a developer\'s password does not work')
  await screenshot(other, 'sso-idp-only-password-desktop')

  // TOTP: the administrator enrols from the secret on the page, signs out, signs in with a code.
  await admin.goto(`${base}/admin/settings`)
  await admin.check('#requireAdminMfa')
  await admin.click('button:has-text("Save settings")')
  await admin.goto(`${base}/admin/developers`)
  t.equal(new URL(admin.url()).pathname, '/profile/mfa', 'requireAdminMfa: enrol first')
  t.match(await admin.textContent('.notice'), 'must use two-step sign-in')
  await screenshot(admin, 'mfa-enrol-desktop')
  const secret = (await admin.textContent('#mfa-secret')) ?? ''
  await admin.fill('#code', generateSync({ secret }))
  await admin.click('button:has-text("Turn on two-step sign-in")')
  t.match(await admin.textContent('h1'), 'Two-step sign-in is on')
  t.equal(await admin.locator('.recovery-codes li').count(), 10)
  await admin.click('form[action="/signout"] button')
  // Password sign-in is off for developers: an administrator takes the link to the password form.
  await admin.click('text=Sign in with your password')
  await admin.fill('#email', ADMIN.email)
  await admin.fill('#password', ADMIN.password)
  await admin.click('form[action="/signin"] button')
  t.equal(new URL(admin.url()).pathname, '/signin/mfa')
  await screenshot(admin, 'mfa-code-desktop')
  await admin.fill('#code', generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }))
  await admin.click('main button[type=submit]')
  t.equal(new URL(admin.url()).pathname, '/admin', 'signed in with the code')
  await admin.goto(`${base}/admin/developers`)
  t.equal(new URL(admin.url()).pathname, '/admin/developers')
})
