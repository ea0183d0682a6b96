import type { FastifyInstance } from 'fastify'
import { rateLimited } from '../../plugins/security'
import { TooManyRequests } from '../../services/kernel/errors'
import type { SignedInAccount } from '../../services/accounts/sign-in'
import { afterFirstStep } from './sign-in-steps'
import { startProviderSignIn } from './sso'
import { Type } from '@sinclair/typebox'
import { formSchema, safeNext, type FormBody } from '../shared/forms'
import { querySchema } from '../shared/params'
import { SESSION_COOKIE } from '../../http/cookies'

const signInForm = formSchema({ email: 1000, password: 1024 }, { next: Type.Optional(Type.String({ maxLength: 2000 })) })

// One message for unknown email, wrong password and an account that may not sign in.
export const SIGN_IN_REFUSED = 'The email or password is not right, or this account cannot sign in.'

const NOTICES: Record<string, string> = {
  'signed-out': 'You have signed out.',
  'mfa-expired': 'The sign-in took too long between its two steps. Sign in again.',
  closed: 'Your account is closed. Thank you for using our APIs.'
}

export default async function signInRoutes (app: FastifyInstance): Promise<void> {
  const { signIn, settings, providers, mfa, oidc } = app.services

  /** The sign-in page: a button per enabled provider, and the password form unless developers may not use one. */
  async function signInPage (data: { values: Record<string, unknown>, notice?: string | null, formError?: string, password?: boolean }) {
    const [current, offered] = await Promise.all([settings.getSettings(), providers.listEnabled()])
    return {
      title: 'Sign in',
      providers: offered,
      // Password sign-in off: the form only for an administrator who asks for it (their way back in).
      showPassword: current.passwordSignIn || data.password === true || offered.length === 0,
      passwordSignIn: current.passwordSignIn,
      autoRedirect: current.autoRedirect && !current.passwordSignIn && offered.length === 1,
      notice: null,
      ...data
    }
  }

  app.get<{ Querystring: { next?: string, notice?: string, password?: string, state?: string } }>('/signin', {
    // state: what a provider sends back after signing out there (post_logout_redirect_uri).
    schema: querySchema({ next: { type: 'string', maxLength: 2000 }, notice: { type: 'string', maxLength: 40 }, password: { type: 'string', maxLength: 10 }, state: { type: 'string', maxLength: 100 } })
  }, async (request, reply) => {
    const { next, password } = request.query
    const notice = request.query.notice ?? (request.query.state === 'signed-out' ? 'signed-out' : undefined)
    if (request.account !== null) return await reply.code(303).redirect(safeNext(next, request.account.isAdmin ? '/admin' : '/'))
    const page = await signInPage({
      values: { next: next ?? '' },
      password: password !== undefined,
      notice: notice !== undefined ? NOTICES[notice] ?? null : (next !== undefined ? 'Please sign in to continue.' : null)
    })
    // One provider, password sign-in off, auto-redirect on: straight to the provider (not right
    // after signing out, nor when an administrator asks for the password form).
    if (page.autoRedirect && notice === undefined && password === undefined) {
      return await startProviderSignIn(app, reply, page.providers[0].id, next ?? '')
    }
    return await reply.page('portal/signin', page)
  })

  app.post<{ Body: FormBody<typeof signInForm> }>('/signin', {
    config: rateLimited(app.config.rateLimitPerMinute),
    schema: signInForm
  }, async (request, reply) => {
    const { email, password, next } = request.body
    const values = { email, next: next ?? '' }
    const { passwordSignIn } = await settings.getSettings()
    let account: SignedInAccount | null
    try {
      account = await signIn.authenticate(email, password, { adminsOnly: !passwordSignIn })
    } catch (err) {
      if (!(err instanceof TooManyRequests)) throw err
      void reply.header('retry-after', String(err.retryAfterSeconds))
      return await reply.page('portal/signin', await signInPage({ values, formError: err.message, password: true }), err.statusCode)
    }
    if (account === null) {
      return await reply.page('portal/signin', await signInPage({ values, formError: SIGN_IN_REFUSED, password: true }), 400)
    }
    return await afterFirstStep(request, reply, { account, next, needsCode: await mfa.isEnabled(account.id) })
  })

  app.post('/signout', { schema: formSchema({}) }, async (request, reply) => {
    const provider = request.session.provider
    await request.session.destroy()
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    // Signed in through a provider that offers it: its session ends too, and it sends the browser back to /signin.
    if (provider !== undefined) {
      const found = await providers.forSignIn(provider.id).catch(() => null)
      const url = found === null ? null : await oidc.endSessionUrl(found, provider.idTokenHint, `${app.config.publicUrl}/signin`)
      if (url !== null) return await reply.code(303).redirect(url)
    }
    return await reply.code(303).redirect('/signin?notice=signed-out')
  })
}
