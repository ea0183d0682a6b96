import type { FastifyReply, FastifyRequest } from 'fastify'
import { startSession } from '../../plugins/auth'
import { safeNext } from '../shared/forms'

/** How long the two-step code may take after the password (or the provider) was accepted. */
export const MFA_STEP_MS = 5 * 60_000

export interface FirstStep {
  account: { id: number, isAdmin: boolean }
  /** Where to go once signed in (checked by safeNext). */
  next: string | undefined
  /** The account must still give a TOTP code. */
  needsCode: boolean
  /** Signed in through an identity provider: kept for signing out there. */
  provider?: { id: number, idTokenHint: string }
  /** A message for the first page after signing in. */
  flash?: string
}

/**
 * What every sign-in does once its first step passed (a password, a provider): either the session
 * starts (a new session id), or it holds only the pending second step and the browser goes to
 * /signin/mfa. A session never holds an account id before every step is done.
 */
export async function afterFirstStep (request: FastifyRequest, reply: FastifyReply, step: FirstStep): Promise<FastifyReply> {
  if (step.needsCode) {
    await request.session.regenerate()
    request.session.mfaPending = { accountId: step.account.id, until: request.server.services.clock.now().getTime() + MFA_STEP_MS, next: step.next ?? '', provider: step.provider }
    return await reply.code(303).redirect('/signin/mfa')
  }
  await startSession(request, step.account.id, step.flash)
  if (step.provider !== undefined) request.session.provider = step.provider
  return await reply.code(303).redirect(safeNext(step.next === '' ? undefined : step.next, step.account.isAdmin ? '/admin' : '/'))
}
