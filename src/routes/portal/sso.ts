import type { FastifyInstance, FastifyReply } from 'fastify'
import { Type } from '@sinclair/typebox'
import { rateLimited } from '../../plugins/security'
import { DomainError, NotFound } from '../../services/kernel/errors'
import { FLOW_TTL_MS, SignInProblem } from '../../services/identity/oidc'
import type { ProviderForSignIn } from '../../services/identity/providers'
import { formSchema, safeNext, type FormBody } from '../shared/forms'
import { idParams, parseId } from '../shared/params'
import { afterFirstStep } from './sign-in-steps'

/** The sealed state of a started sign-in lives here, for 10 minutes, sent only to the callbacks. */
export const FLOW_COOKIE = 'portico_oidc'
const FLOW_COOKIE_PATH = '/signin/oidc'

const startForm = formSchema({}, { next: Type.Optional(Type.String({ maxLength: 2000 })) })

/** The page for a sign-in through a provider that went wrong: what happened, and the way back. */
async function problemPage (reply: FastifyReply, err: unknown): Promise<FastifyReply> {
  if (err instanceof SignInProblem) return await reply.page('portal/signin-problem', { title: 'Sign-in did not complete', message: err.message }, err.statusCode)
  // A refused or conflicting change (the same email created at the same moment): a page too, never a 500.
  if (err instanceof DomainError && err.statusCode < 500) return await reply.page('portal/signin-problem', { title: 'Sign-in did not complete', message: err.message }, err.statusCode)
  throw err
}

/**
 * Starts a sign-in at a provider: the code flow with PKCE (S256), state and nonce, kept sealed in
 * a short-lived cookie bound to this browser (no session row), then 303 to the provider.
 */
export async function startProviderSignIn (app: FastifyInstance, reply: FastifyReply, providerId: number, next: string): Promise<FastifyReply> {
  try {
    const provider = await app.services.providers.forSignIn(providerId)
    const redirectUri = `${app.config.publicUrl}/signin/oidc/${provider.id}/callback`
    const { url, cookie } = await app.services.oidc.start(provider, redirectUri, safeNext(next, ''))
    void reply.setCookie(FLOW_COOKIE, cookie, {
      path: FLOW_COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure: app.config.publicUrl.startsWith('https:'), maxAge: FLOW_TTL_MS / 1000
    })
    return await reply.code(303).redirect(url)
  } catch (err) {
    if (err instanceof NotFound) return await reply.page('portal/signin-problem', { title: 'Sign-in did not complete', message: 'This identity provider is not offered for sign-in.' }, 404)
    return await problemPage(reply, err)
  }
}

/** Single sign-on: POST /signin/oidc/:id starts it, the provider sends the browser back to the callback. */
export default async function ssoRoutes (app: FastifyInstance): Promise<void> {
  const { providers, oidc, providerSignIn, mfa } = app.services
  const limited = rateLimited(app.config.rateLimitPerMinute)

  app.post<{ Params: { id: string }, Body: FormBody<typeof startForm> }>('/signin/oidc/:id', {
    config: limited, schema: { ...idParams, ...startForm }
  }, async (request, reply) => await startProviderSignIn(app, reply, parseId(request.params.id), request.body.next ?? ''))

  app.get<{ Params: { id: string } }>('/signin/oidc/:id/callback', {
    config: { ...limited, secretPage: true },
    // Providers add parameters of their own (Google: scope, authuser, hd, prompt): any, each bounded.
    schema: { ...idParams, querystring: { type: 'object', additionalProperties: { type: 'string', maxLength: 4000 }, maxProperties: 30 } }
  }, async (request, reply) => {
    const cookie = request.cookies[FLOW_COOKIE]
    // The state is spent whatever happens next: the cookie goes.
    void reply.clearCookie(FLOW_COOKIE, { path: FLOW_COOKIE_PATH })
    let provider: ProviderForSignIn | undefined
    try {
      try {
        provider = await providers.forSignIn(parseId(request.params.id))
      } catch (err) {
        if (err instanceof NotFound) throw new SignInProblem('This identity provider is not offered for sign-in.', 404)
        throw err
      }
      const { claims, idTokenHint, next } = await oidc.finish(provider, new URL(request.url, app.config.publicUrl), cookie)
      const { account } = await providerSignIn.signIn(provider, claims, request.ip)
      const isAdmin = (await app.services.signIn.findSignedInAccount(account.id))?.isAdmin ?? false
      const needsCode = provider.localMfa && await mfa.isEnabled(account.id)
      return await afterFirstStep(request, reply, { account: { id: account.id, isAdmin }, next, needsCode, provider: { id: provider.id, idTokenHint } })
    } catch (err) {
      if (provider !== undefined && err instanceof SignInProblem && !err.audited) await providerSignIn.recordFailure(provider, err.message, request.ip)
      return await problemPage(reply, err)
    }
  })
}
