// Two-step sign-in (TOTP): enrolment from the page's QR code and secret, codes from otplib.
import t, { type Test } from 'tap'
import { generateSync, generateURI } from 'otplib'
import QRCode from 'qrcode'
import { ADMIN, Client, DEV, countOf, createAdmin, createDeveloper, makeApp, signedInClient } from '../../helpers'
import { TestClock } from '../../clock'
import { startSmtp } from '../../smtp'

const codeAt = (secret: string, clock: TestClock): string => generateSync({ secret, epoch: Math.floor(clock.now().getTime() / 1000) })

/** Turns two-step sign-in on for a signed-in client: the secret read from the page, the recovery codes shown. */
async function enrol (t: Test, client: Client, clock: TestClock, email = DEV.email): Promise<{ secret: string, codes: string[] }> {
  const page = await client.get('/profile/mfa')
  t.equal(page.statusCode, 200)
  const secret = /<code class="secret" id="mfa-secret">([A-Z2-7]+)<\/code>/.exec(page.body)?.[1] ?? ''
  t.ok(secret.length >= 16, 'the secret is shown as text')
  // The QR code holds that very secret: the otpauth URI drawn again is the very same SVG.
  const expected = await QRCode.toString(generateURI({ issuer: 'Portico', label: email, secret }), { type: 'svg', margin: 1, errorCorrectionLevel: 'M' })
  const svg = /<svg[\s\S]*?<\/svg>/.exec(page.body)?.[0] ?? ''
  t.ok(svg.length > 500, 'an SVG QR code drawn on the server')
  t.equal(svg, expected.trim(), 'the QR code encodes otpauth://totp/… with the secret shown')
  const done = await client.post('/profile/mfa', { code: codeAt(secret, clock) })
  t.equal(done.statusCode, 200, done.body.slice(0, 300))
  const codes = [...done.body.matchAll(/<li>([a-z2-9]{5}-[a-z2-9]{5})<\/li>/g)].map((m) => m[1])
  t.equal(codes.length, 10, '10 recovery codes, shown once')
  return { secret, codes }
}

t.test('enrol, sign in with a code, replay refused, recovery code once, lockout after 5 wrong codes', async (t) => {
  const clock = new TestClock()
  const app = await makeApp(t, {}, { clock })
  await createAdmin(app)
  const dev = await createDeveloper(app)
  const client = await signedInClient(app, DEV)
  const { secret, codes } = await enrol(t, client, clock)

  const row = await app.db('account_mfa').where('developer_id', dev.id).first()
  t.notMatch(row.secret, new RegExp(secret), 'the secret is sealed at rest')
  const hashes = await app.db('mfa_recovery_codes').where('developer_id', dev.id).pluck('code_hash')
  t.equal(hashes.length, 10)
  t.notOk(hashes.some((h: string) => codes.some((c) => h.includes(c.replace('-', '')))), 'recovery codes are kept hashed')
  t.notMatch((await client.get('/profile/mfa')).body, new RegExp(secret), 'the secret is never shown again')

  // Sign in: the password leads to the code step; no account in the session until the code.
  clock.advance(60_000)
  const second = new Client(app)
  const first = await second.signIn(DEV.email, DEV.password)
  t.equal(first.statusCode, 303)
  t.equal(first.headers.location, '/signin/mfa')
  t.equal((await second.get('/profile')).statusCode, 303, 'not signed in before the code')
  t.match((await second.get('/signin/mfa')).body, /6-digit code/)
  const code = codeAt(secret, clock)
  const wrong = await second.post('/signin/mfa', { code: '000000' === code ? '111111' : '000000' })
  t.equal(wrong.statusCode, 400)
  t.match(wrong.body, /That code is not right/)
  const ok = await second.post('/signin/mfa', { code })
  t.equal(ok.statusCode, 303)
  t.equal(ok.headers.location, '/')
  t.equal((await second.get('/profile')).statusCode, 200, 'signed in after the code')

  // The same code again, in another sign-in within its 30 s: refused.
  const third = new Client(app)
  await third.signIn(DEV.email, DEV.password)
  const replay = await third.post('/signin/mfa', { code })
  t.equal(replay.statusCode, 400)
  t.match(replay.body, /already used/)

  // A recovery code works once.
  const recovered = await third.post('/signin/mfa', { code: codes[0].toUpperCase() })
  t.equal(recovered.statusCode, 303, 'a recovery code (in any case) signs in')
  const fourth = new Client(app)
  await fourth.signIn(DEV.email, DEV.password)
  t.equal((await fourth.post('/signin/mfa', { code: codes[0] })).statusCode, 400, 'used once only')
  t.equal(await countOf(app.db('mfa_recovery_codes').where('developer_id', dev.id).whereNull('used_at')), 9)

  // Five wrong codes (the one above counts) lock the step, the right code too, for 15 minutes.
  for (let i = 0; i < 4; i++) t.equal((await fourth.post('/signin/mfa', { code: '12345' + String(i) })).statusCode, 400)
  clock.advance(30_000)
  const locked = await fourth.post('/signin/mfa', { code: codeAt(secret, clock) })
  t.equal(locked.statusCode, 429)
  t.match(locked.body, /Too many wrong codes/)
  clock.advance(15 * 60_000)
  const fifth = new Client(app)
  await fifth.signIn(DEV.email, DEV.password)
  t.equal((await fifth.post('/signin/mfa', { code: codeAt(secret, clock) })).statusCode, 303, 'open again after 15 minutes')
})

t.test('the code step expires after 5 minutes; turning it off needs the password and a code; new recovery codes replace the old', async (t) => {
  const clock = new TestClock()
  const app = await makeApp(t, {}, { clock })
  await createAdmin(app)
  await createDeveloper(app)
  const client = await signedInClient(app, DEV)
  const { secret, codes } = await enrol(t, client, clock)

  const late = new Client(app)
  await late.signIn(DEV.email, DEV.password)
  clock.advance(5 * 60_000 + 1000)
  const expired = await late.post('/signin/mfa', { code: codeAt(secret, clock) })
  t.equal(expired.statusCode, 303)
  t.equal(expired.headers.location, '/signin?notice=mfa-expired')
  t.match((await late.get('/signin?notice=mfa-expired')).body, /took too long/)

  const renewed = await client.post('/profile/mfa/recovery-codes')
  t.equal(renewed.statusCode, 200)
  const fresh = [...renewed.body.matchAll(/<li>([a-z2-9]{5}-[a-z2-9]{5})<\/li>/g)].map((m) => m[1])
  t.equal(fresh.length, 10)
  const tryOld = new Client(app)
  await tryOld.signIn(DEV.email, DEV.password)
  t.equal((await tryOld.post('/signin/mfa', { code: codes[1] })).statusCode, 400, 'old recovery codes are gone')

  await client.get('/profile/mfa')
  const noPassword = await client.post('/profile/mfa/disable', { password: 'not my password at all', code: fresh[0] })
  t.equal(noPassword.statusCode, 400)
  t.match(noPassword.body, /not your current password/)
  clock.advance(60_000)
  const off = await client.post('/profile/mfa/disable', { password: DEV.password, code: codeAt(secret, clock) })
  t.equal(off.statusCode, 303)
  const plain = new Client(app)
  t.equal((await plain.signIn(DEV.email, DEV.password)).headers.location, '/', 'the password alone signs in again')
})

t.test('requireAdminMfa sends an administrator to enrol before any /admin page; another administrator resets it', async (t) => {
  const clock = new TestClock()
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url }, { clock })
  await createAdmin(app)
  const other = { firstName: 'Bo', lastName: 'Boss', email: 'bo@example.com', password: 'another admin password here' }
  const admin = await signedInClient(app, ADMIN)
  await admin.get('/admin/developers/new')
  const groups = await app.db('groups').where('system_key', 'administrators').first('id')
  t.equal((await admin.post('/admin/developers', { ...other, groups: String(groups.id) })).statusCode, 303)
  await admin.get('/admin/settings')
  t.equal((await admin.post('/admin/settings', { orgName: 'Portico', termsOfUse: '', signupEnabled: 'on', signInFields: '1', passwordSignIn: 'on', requireAdminMfa: 'on' })).statusCode, 303)

  const sent = await admin.get('/admin/developers')
  t.equal(sent.statusCode, 303)
  t.equal(sent.headers.location, '/profile/mfa')
  t.match((await admin.get('/profile/mfa')).body, /Administrators of this portal must use two-step sign-in/)
  const page = await admin.get('/profile/mfa')
  const secret = /id="mfa-secret">([A-Z2-7]+)</.exec(page.body)?.[1] ?? ''
  t.equal((await admin.post('/profile/mfa', { code: codeAt(secret, clock) })).statusCode, 200)
  t.equal((await admin.get('/admin/developers')).statusCode, 200, 'enrolled: the publisher portal opens')

  const bo = await signedInClient(app, other)
  t.equal((await bo.get('/admin')).headers.location, '/profile/mfa', 'the other administrator too')
  const boPage = await bo.get('/profile/mfa')
  const boSecret = /id="mfa-secret">([A-Z2-7]+)</.exec(boPage.body)?.[1] ?? ''
  t.equal((await bo.post('/profile/mfa', { code: codeAt(boSecret, clock) })).statusCode, 200)
  const adaId = (await app.db('developers').where('email_normalized', ADMIN.email).first()).id
  const confirm = await bo.get(`/admin/developers/${adaId}/mfa/reset`)
  t.match(confirm.body, /Reset two-step sign-in\?/)
  t.equal((await bo.post(`/admin/developers/${adaId}/mfa/reset`)).statusCode, 303)
  t.equal(await countOf(app.db('account_mfa').where('developer_id', adaId)), 0)
  t.ok(await app.db('audit_events').where({ action: 'developer.mfa-reset', target_id: adaId }).first(), 'audited')
  const [mail] = await smtp.waitForSubject(/two-step sign-in was reset/i)
  t.match(JSON.stringify(mail.to), /ada@example\.com/, 'the developer is mailed')
  t.equal((await admin.get('/admin')).headers.location, '/profile/mfa', 'reset: enrol again')
  const dev = await createDeveloper(app)
  const devClient = await signedInClient(app, DEV)
  t.equal((await devClient.get('/profile/mfa')).statusCode, 200, 'developers are not forced')
  t.equal((await devClient.get(`/admin/developers/${dev.id}/mfa/reset`)).statusCode, 403, 'a developer cannot reset')
})
