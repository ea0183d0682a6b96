import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { SignedInAccount } from '../services/accounts/sign-in'
import { Forbidden } from '../services/kernel/errors'
import '../http/request-account'

/** Where a signed-out visitor is sent, with the page to come back to (the sign-in page then says why). */
export function signInRedirect (request: FastifyRequest): string {
  const next = request.method === 'GET' ? request.url : '/'
  return `/signin?${new URLSearchParams({ next }).toString()}`
}

/** Guard for developer-portal pages: signed-out (or just blocked) visitors go to /signin. */
export async function requireAccount (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.account === null) {
    await reply.code(303).redirect(signInRedirect(request))
  }
}

/** Guard for /admin: signed out → /signin; signed in but not an administrator → 403. */
export async function requireAdmin (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.account === null) {
    await reply.code(303).redirect(signInRedirect(request))
    return
  }
  if (!request.account.isAdmin) throw new Forbidden('This page is for administrators of the publisher portal.')
}

export interface AuthOptions {
  /** The session store, when it reads each session's account with it (one query, not two). */
  sessionAccounts?: { takeAccount: (sid: string) => SignedInAccount | null | undefined }
}

/** Reloads the session's account on every request; a blocked or deleted account's session ends here. */
export default fp(async function auth (app: FastifyInstance, options: AuthOptions) {
  app.decorateRequest('account', null)
  app.addHook('onRequest', async (request) => {
    const id = request.session.accountId
    if (id === undefined) return
    const preloaded = options.sessionAccounts?.takeAccount(request.session.sessionId)
    const account = preloaded === undefined || (preloaded !== null && preloaded.id !== id) ? await app.services.signIn.findSignedInAccount(id) : preloaded
    if (account === null) {
      // Blocked or deleted since the last request: drop the session, carry on signed out.
      await request.session.regenerate()
      return
    }
    request.account = account
  })
}, { name: 'portico-auth', dependencies: ['@fastify/session'] })

/** Signs an account in: a new session id (the old session is destroyed) holding only the account id. */
export async function startSession (request: FastifyRequest, accountId: number, flash?: string): Promise<void> {
  await request.session.regenerate()
  request.session.accountId = accountId
  if (flash !== undefined) request.session.flash = flash
}
