import t from 'tap'
import { createAdmin, makeApp } from '../helpers'
import { linkIn, startSmtp } from '../smtp'
import { launchBrowser, listen, newPage, screenshot, signInAs } from './browser'

t.test('a developer signs up, confirms, edits the profile, resets the password and closes the account', async (t) => {
  const smtp = await startSmtp(t)
  const app = await makeApp(t, { SMTP_URL: smtp.url })
  await createAdmin(app)
  const base = await listen(app)
  const browser = await launchBrowser(t)
  const { page } = await newPage(browser, { width: 390, height: 844 })

  await page.goto(`${base}/`)
  await page.click('main >> text=Sign up')
  await page.fill('#firstName', 'Nia')
  await page.fill('#lastName', 'New')
  await page.fill('#email', 'nia@example.com')
  await page.fill('#password', 'nia picks a long passphrase')
  await screenshot(page, 'signup-phone')
  await page.click('button:has-text("Sign up")')
  t.match(await page.textContent('h1'), 'Check your email')

  const confirm = new URL(linkIn((await smtp.waitForSubject(/Confirm/))[0], 'confirm'))
  await page.goto(`${base}${confirm.pathname}`)
  await page.click('button:has-text("Confirm and activate")')
  t.match(await page.textContent('.flash'), 'is active')
  await signInAs(page, base, { email: 'nia@example.com', password: 'nia picks a long passphrase' })
  t.match(await page.textContent('h1'), 'Welcome, Nia')

  await page.click('main >> text=Your profile')
  await page.fill('#lastName', 'Newer')
  await page.click('button:has-text("Save name")')
  t.match(await page.textContent('.flash'), 'Your name was saved.')
  t.equal(await page.inputValue('#lastName'), 'Newer')
  await screenshot(page, 'profile-phone')

  await page.click('header >> text=Sign out')
  await page.click('text=Forgot your password?')
  await page.fill('#email', 'nia@example.com')
  await page.click('button:has-text("Send the link")')
  t.match(await page.textContent('h1'), 'Check your email')
  const reset = new URL(linkIn((await smtp.waitForSubject(/Reset your/))[0], 'password-reset'))
  await page.goto(`${base}${reset.pathname}`)
  await page.fill('#password', 'a fresh passphrase for nia')
  await page.click('button:has-text("Set the new password")')
  t.match(await page.textContent('.flash'), 'Sign in with the new one')
  await signInAs(page, base, { email: 'nia@example.com', password: 'a fresh passphrase for nia' })
  t.match(await page.textContent('h1'), 'Welcome, Nia')

  await page.goto(`${base}/profile`)
  await page.click('text=Close my account…')
  await page.fill('#password', 'a fresh passphrase for nia')
  await page.click('button:has-text("Close my account")')
  t.equal(new URL(page.url()).pathname, '/signin')
  t.match(await page.textContent('.notice'), 'Your account is closed')
  await smtp.waitForSubject(/is closed/)
})
