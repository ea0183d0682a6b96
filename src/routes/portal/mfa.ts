import type { FastifyInstance, FastifyReply } from 'fastify'
import { requireAccount } from '../../plugins/auth'
import { rateLimited } from '../../plugins/security'
import { signedIn as me, actorOf } from '../../http/request-account'
import { Invalid, TooManyRequests } from '../../services/kernel/errors'
import { ACCOUNT_FIELDS } from '../shared/account-fields'
import { formSchema, showFormErrors, type FormBody } from '../shared/forms'
import { afterFirstStep } from './sign-in-steps'

const codeForm = formSchema({ code: 40 })
const disableForm = formSchema({ password: ACCOUNT_FIELDS.password, code: 40 })

/** Two-step sign-in (TOTP): the second step of a sign-in, and enrolment on the profile. */
export default async function mfaRoutes (app: FastifyInstance): Promise<void> {
  const { mfa, signIn } = app.services
  const limited = { config: rateLimited(app.config.rateLimitPerMinute) }
  const guarded = { onRequest: requireAccount }

  // The second step: only for a browser whose first step passed in the last 5 minutes.
  app.get('/signin/mfa', async (request, reply) => {
    const pending = request.session.mfaPending
    if (pending === undefined || pending.until <= app.services.clock.now().getTime()) return await reply.code(303).redirect(pending === undefined ? '/signin' : '/signin?notice=mfa-expired')
    return await reply.page('portal/signin-mfa', { title: 'Sign-in code' })
  })

  app.post<{ Body: FormBody<typeof codeForm> }>('/signin/mfa', { ...limited, schema: codeForm }, async (request, reply) => {
    const pending = request.session.mfaPending
    if (pending === undefined || pending.until <= app.services.clock.now().getTime()) {
      delete request.session.mfaPending
      return await reply.code(303).redirect(pending === undefined ? '/signin' : '/signin?notice=mfa-expired')
    }
    try {
      const { recoveryCodeUsed } = await mfa.verify(pending.accountId, request.body.code)
      const account = await signIn.findSignedInAccount(pending.accountId)
      // Blocked (or deleted) between the two steps: no session.
      if (account === null) {
        delete request.session.mfaPending
        return await reply.code(303).redirect('/signin')
      }
      const flash = recoveryCodeUsed ? 'You signed in with a recovery code; it no longer works. Make new ones on your profile when you run low.' : undefined
      return await afterFirstStep(request, reply, { account, next: pending.next, needsCode: false, provider: pending.provider, flash })
    } catch (err) {
      if (err instanceof TooManyRequests) {
        void reply.header('retry-after', String(err.retryAfterSeconds))
        return await reply.page('portal/signin-mfa', { title: 'Sign-in code', formError: err.message }, 429)
      }
      return await showFormErrors(reply, err, 'portal/signin-mfa', { title: 'Sign-in code' })
    }
  })

  /** The profile's page: enrolment (QR code and secret) when off, recovery codes and turning off when on. */
  async function mfaPage (reply: FastifyReply, accountId: number, data: Record<string, unknown> = {}, statusCode = 200): Promise<FastifyReply> {
    const account = me(reply.request)
    const status = await mfa.status(accountId)
    const enrolment = status.enabled ? null : await mfa.beginEnrolment(account)
    const required = account.isAdmin && (await app.services.settings.getSettings()).requireAdminMfa
    return await reply.page('portal/mfa', { title: 'Two-step sign-in', status, enrolment, required, ...data }, statusCode)
  }

  app.get('/profile/mfa', guarded, async (request, reply) => await mfaPage(reply, me(request).id))

  app.post<{ Body: FormBody<typeof codeForm> }>('/profile/mfa', { ...guarded, ...limited, schema: codeForm }, async (request, reply) => {
    const account = me(request)
    try {
      const codes = await mfa.confirmEnrolment(account, request.body.code, actorOf(request))
      // The codes are shown on this answer only (never kept in the session): a page, not a redirect.
      return await reply.page('portal/mfa-recovery-codes', { title: 'Your recovery codes', codes, enabledNow: true })
    } catch (err) {
      if (!(err instanceof Invalid)) return await showFormErrors(reply, err, 'portal/mfa', { title: 'Two-step sign-in', status: await mfa.status(account.id), enrolment: null, required: false })
      return await mfaPage(reply, account.id, { errors: err.fields }, err.statusCode)
    }
  })

  app.post('/profile/mfa/recovery-codes', { ...guarded, schema: formSchema({}) }, async (request, reply) => {
    const account = me(request)
    try {
      const codes = await mfa.renewRecoveryCodes(account, actorOf(request))
      return await reply.page('portal/mfa-recovery-codes', { title: 'Your recovery codes', codes, enabledNow: false })
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/mfa', { title: 'Two-step sign-in', status: await mfa.status(account.id), enrolment: null, required: false })
    }
  })

  app.post<{ Body: FormBody<typeof disableForm> }>('/profile/mfa/disable', { ...guarded, ...limited, schema: disableForm }, async (request, reply) => {
    const account = me(request)
    try {
      await mfa.disable(account, request.body.password, request.body.code, actorOf(request))
      request.session.flash = 'Two-step sign-in is off. Your password alone now signs you in.'
      return await reply.code(303).redirect('/profile/mfa')
    } catch (err) {
      if (err instanceof TooManyRequests) {
        void reply.header('retry-after', String(err.retryAfterSeconds))
        return await mfaPage(reply, account.id, { formError: err.message }, 429)
      }
      if (err instanceof Invalid) return await mfaPage(reply, account.id, { errors: err.fields }, err.statusCode)
      throw err
    }
  })
}
