// Pages read in a text browser (lynx -dump) in a sensible order: what a screen-reader or terminal
// user meets first is the page's own content, each block on its own lines, nothing run together.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ADMIN, Client, DEV, createAdmin, createDeveloper, makeApp, signedInClient } from '../helpers'
import { unsealBodies } from '../../src/services/mail/outbox'
import { LIBRARY_YAML } from '../fixtures/openapi'
import { productFor } from '../fixtures/catalog'

function w3mWidth (html: string): number {
  const dir = mkdtempSync(join(tmpdir(), 'portico-w3m-'))
  try {
    const file = join(dir, 'page.html')
    writeFileSync(file, html)
    const text = execFileSync('w3m', ['-dump', '-cols', '80', '-T', 'text/html', file], { encoding: 'utf8' })
    return Math.max(...text.split('\n').map((line) => [...line].length))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function dump (html: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-lynx-'))
  try {
    const file = join(dir, 'page.html')
    writeFileSync(file, html)
    return execFileSync('lynx', ['-dump', '-nolist', '-width=80', '-force_html', '-assume_charset=utf-8', '-display_charset=utf-8', file], { encoding: 'utf8' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Each piece appears, in this order. */
function inOrder (t: Test, text: string, pieces: string[], what: string): void {
  let at = 0
  for (const piece of pieces) {
    const found = text.indexOf(piece, at)
    t.ok(found >= 0, `${what}: "${piece}" comes next`)
    if (found >= 0) at = found + piece.length
  }
}

t.test('sign-in, invitation, sign-up terms and profile read in order in lynx', async (t) => {
  const app = await makeApp(t)
  const admin = await createAdmin(app)
  const actor = { id: admin.id, label: admin.email, ip: null }
  await createDeveloper(app)
  await app.services.settings.saveSettings({ signupEnabled: true, orgName: 'Portico', termsOfUse: 'Be kind to the APIs.\n\n- No scraping\n- No resale' }, actor)
  await app.services.invitations.inviteDeveloper({ firstName: 'Ivy', lastName: 'Invitee', email: 'ivy.invitee@example.com' }, actor)
  const row = await app.db('outbox_emails').where('template', 'invitation').first()
  const token = /invitations\/([A-Za-z0-9_-]{43})/.exec(unsealBodies(row, app.services.linkSealer)?.text ?? '')?.[1] ?? ''

  const signin = dump((await new Client(app).get('/signin')).body)
  inOrder(t, signin, ['Skip to main content', 'Sign in', 'Email', 'Password', 'Forgot your password?'], 'sign-in')
  const refused = dump((await new Client(app).post('/signin', { email: DEV.email, password: 'not the password at all' })).body)
  inOrder(t, refused, ['Skip to main content', 'There is a problem', 'The email or password is not right', 'Sign in', 'Email'], 'sign-in refused: the problem first')

  const invitation = dump((await new Client(app).get(`/invitations/${token}`)).body)
  inOrder(t, invitation, ['Skip to main content', 'Welcome, Ivy', 'ivy.invitee@example.com', 'Password', 'At least 15 characters', 'Activate my account'], 'invitation')
  const weak = dump((await new Client(app).post(`/invitations/${token}`, { password: 'short' })).body)
  inOrder(t, weak, ['There is a problem', 'Use at least 15 characters', 'Password', 'Use at least 15 characters'], 'invitation with a short password')

  const signup = dump((await new Client(app).get('/signup')).body)
  inOrder(t, signup, ['Terms of use', 'Be kind to the APIs.', 'No scraping', 'No resale', 'I agree to the terms of use'], 'sign-up terms')
  t.match(signup, /^\s*\* No scraping$/m, 'the list is a list')

  // The audit log fits a terminal: each event's who, what and whom on lines of their own.
  const publisher = await signedInClient(app, ADMIN)
  await publisher.post('/admin/groups', { name: 'Partner integrations team', description: 'External partners' })
  const width = w3mWidth((await publisher.get('/admin/audit')).body)
  t.ok(width <= 80, `the audit table fits an 80-column terminal in w3m (${width})`)

  const profile = dump((await (await signedInClient(app, DEV)).get('/profile')).body)
  const close = profile.split('\n').find((line) => line.includes('Close my account'))
  t.ok(close !== undefined && !close.includes('Portico'), 'the last link does not run into the footer')
})

t.test('an API reference, one of its operations and the keys read in order in lynx', async (t) => {
  const app = await makeApp(t)
  const admin = await createAdmin(app)
  const actor = { id: admin.id, label: admin.email, ip: null }
  const dev = await createDeveloper(app)
  const api = await app.services.apis.createApi({ name: 'Library', path: 'library', serviceUrl: 'https://library.example.com', description: 'Books and loans.', openapi: LIBRARY_YAML }, actor)
  const product = await productFor(app, actor, { name: 'Books' }, [api.id])
  await app.services.subscriptions.subscribeOnBehalf(dev.id, { productId: product.id, displayName: 'Reading app' }, actor)
  const developer = await signedInClient(app, DEV)

  const reference = dump((await developer.get(`/apis/${api.id}`)).body)
  inOrder(t, reference, ['Skip to main content', 'Overview', 'Search the operations of Library', 'Library', 'Library API · version 2.4.0', 'Base URL', 'How to authenticate',
    'Ocp-Apim-Subscription-Key', 'Operations by tag', 'Books (6 operations)', 'Reviews'], 'reference')
  const operation = dump((await developer.get(`/apis/${api.id}/operations/listBooks`)).body)
  inOrder(t, operation, ['Skip to main content', 'Library', 'GET /books', 'List books', 'Tags: Books', 'Authentication', 'Parameters', 'page', 'query',
    'Responses', '200 A page of books.', 'Code samples', 'curl', 'curl -X GET', 'JavaScript (fetch)', 'Python (requests)', 'Try it', 'Subscription', 'Send the request'], 'an operation')
  const keys = dump((await developer.get('/subscriptions')).body)
  inOrder(t, keys, ['Your subscriptions', 'Reading app', 'Active', 'Product', 'Books', 'Show primary key', 'Regenerate primary key', 'Show secondary key', 'Regenerate secondary key', 'Cancel subscription'], 'subscriptions')
})

t.test('/admin/analytics reads in lynx through its tables: the charts\' numbers are all there', async (t) => {
  const app = await makeApp(t)
  await createAdmin(app)
  await app.services.apis.createApi({ name: 'Books', path: 'books', serviceUrl: 'http://127.0.0.1:9', description: '', openapi: '' }, { id: null, label: 'test', ip: null })
  for (let i = 0; i < 3; i++) await app.inject('/gateway/books/x')
  await app.services.gateway.flush()
  const today = new Date().toISOString().slice(0, 10)
  const text = dump((await (await signedInClient(app, ADMIN)).get('/admin/analytics')).body)
  inOrder(t, text, ['Analytics', '3', 'calls', 'By day', today, '3', 'By API', 'Books', '3', 'Refused calls', 'Missing key', 'No key, or an unknown key', '3'], 'analytics')
  t.notMatch(text, /<svg|<rect|chart-bar/, 'nothing of the SVG leaks into the text')
  const width = w3mWidth((await (await signedInClient(app, ADMIN)).get('/admin/analytics')).body)
  t.ok(width <= 80, `fits an 80-column terminal in w3m (${width})`)
})
