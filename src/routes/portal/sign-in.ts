import type { FastifyInstance } from 'fastify'
import { rateLimited } from '../../plugins/security'
import { TooManyRequests } from '../../services/kernel/errors'
import type { SignedInAccount } from '../../services/accounts/sign-in'
import { startSession } from '../../plugins/auth'
import { Type } from '@sinclair/typebox'
import { formSchema, safeNext, type FormBody } from '../shared/forms'
import { querySchema } from '../shared/params'
import { SESSION_COOKIE } from '../../http/cookies'

const signInForm = formSchema({ email: 1000, password: 1024 }, { next: Type.Optional(Type.String({ maxLength: 2000 })) })

// One message for unknown email, wrong password and an account that may not sign in.
export const SIGN_IN_REFUSED = 'The email or password is not right, or this account cannot sign in.'

const NOTICES: Record<string, string> = {
  'signed-out': 'You have signed out.',
  closed: 'Your account is closed. Thank you for using our APIs.'
}

export default async function signInRoutes (app: FastifyInstance): Promise<void> {
  const { signIn } = app.services

  app.get<{ Querystring: { next?: string, notice?: string } }>('/signin', {
    schema: querySchema({ next: { type: 'string', maxLength: 2000 }, notice: { type: 'string', maxLength: 40 } })
  }, async (request, reply) => {
    const { next, notice } = request.query
    if (request.account !== null) return await reply.code(303).redirect(safeNext(next, request.account.isAdmin ? '/admin' : '/'))
    return await reply.page('portal/signin', {
      title: 'Sign in',
      values: { next: next ?? '' },
      notice: notice !== undefined ? NOTICES[notice] ?? null : (next !== undefined ? 'Please sign in to continue.' : null)
    })
  })

  app.post<{ Body: FormBody<typeof signInForm> }>('/signin', {
    config: rateLimited(app.config.rateLimitPerMinute),
    schema: signInForm
  }, async (request, reply) => {
    const { email, password, next } = request.body
    const values = { email, next: next ?? '' }
    let account: SignedInAccount | null
    try {
      account = await signIn.authenticate(email, password)
    } catch (err) {
      if (!(err instanceof TooManyRequests)) throw err
      void reply.header('retry-after', String(err.retryAfterSeconds))
      return await reply.page('portal/signin', { title: 'Sign in', values, formError: err.message }, err.statusCode)
    }
    if (account === null) {
      return await reply.page('portal/signin', { title: 'Sign in', values, formError: SIGN_IN_REFUSED }, 400)
    }
    await startSession(request, account.id)
    return await reply.code(303).redirect(safeNext(next === '' ? undefined : next, account.isAdmin ? '/admin' : '/'))
  })

  app.post('/signout', { schema: formSchema({}) }, async (request, reply) => {
    await request.session.destroy()
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    return await reply.code(303).redirect('/signin?notice=signed-out')
  })
}
