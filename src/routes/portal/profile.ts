import type { FastifyInstance, FastifyReply } from 'fastify'
import { requireAccount, startSession } from '../../plugins/auth'
import { signedIn as me } from '../../http/request-account'
import { EMAIL_MAX_LENGTH } from '../../services/accounts/account-rules'
import { afterResponse, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { tokenParams } from '../shared/params'
import { rateLimited } from '../../plugins/security'
import { ACCOUNT_FIELDS } from '../shared/account-fields'
import { SESSION_COOKIE } from '../../http/cookies'


const nameForm = formSchema({ firstName: ACCOUNT_FIELDS.firstName, lastName: ACCOUNT_FIELDS.lastName })
const emailChangeForm = formSchema({ email: EMAIL_MAX_LENGTH * 4, password: ACCOUNT_FIELDS.password })
const passwordChangeForm = formSchema({ currentPassword: ACCOUNT_FIELDS.password, newPassword: ACCOUNT_FIELDS.password })
const closeForm = formSchema({ password: ACCOUNT_FIELDS.password })

export default async function profileRoutes (app: FastifyInstance): Promise<void> {
  const { profile } = app.services
  const guarded = { onRequest: requireAccount }
  // Routes that check a password or send mail: limited per address here, per email in the services.
  const limited = { ...guarded, config: rateLimited(app.config.rateLimitPerMinute) }

  const profilePage = async (reply: FastifyReply, err: unknown, values: Record<string, unknown>) =>
    await showFormErrors(reply, err, 'portal/profile', { title: 'Your profile', values, errorLinks: { password: 'email-password' } })

  app.get('/profile', guarded, async (_request, reply) => await reply.page('portal/profile', { title: 'Your profile' }))

  app.post<{ Body: FormBody<typeof nameForm> }>('/profile', { ...guarded, schema: nameForm }, async (request, reply) => {
    try {
      await profile.updateName(me(request).id, request.body)
      request.session.flash = 'Your name was saved.'
      return await reply.code(303).redirect('/profile')
    } catch (err) {
      return await profilePage(reply, err, keptValues(request.body))
    }
  })

  app.post<{ Body: FormBody<typeof emailChangeForm> }>('/profile/email', { ...limited, schema: emailChangeForm }, async (request, reply) => {
    try {
      afterResponse(reply, await profile.requestEmailChange(me(request), request.body.email, request.body.password))
      request.session.flash = `A confirmation link is on its way to ${request.body.email.trim()}. Your email changes once you open it.`
      return await reply.code(303).redirect('/profile')
    } catch (err) {
      return await profilePage(reply, err, { newEmail: request.body.email })
    }
  })

  // The link in the email: GET shows, POST changes. No sign-in needed: the link is the proof.
  app.get<{ Params: { token: string } }>('/profile/email/:token', { schema: tokenParams, config: { secretPage: true } }, async (request, reply) => {
    const change = await profile.findEmailChange(request.params.token)
    return await reply.page('portal/confirm-email', { title: 'Confirm your new email', ...change })
  })

  app.post<{ Params: { token: string } }>('/profile/email/:token', { schema: { ...tokenParams, ...formSchema({}) }, config: { secretPage: true } }, async (request, reply) => {
    const account = await profile.confirmEmailChange(request.params.token, request.ip)
    request.session.flash = `Your email address is now ${account.email}.`
    return await reply.code(303).redirect(request.account === null ? '/signin' : '/profile')
  })

  app.post<{ Body: FormBody<typeof passwordChangeForm> }>('/profile/password', {
    ...limited, schema: passwordChangeForm
  }, async (request, reply) => {
    const account = me(request)
    try {
      await profile.changePassword(account.id, request.body.currentPassword, request.body.newPassword, request.session.sessionId)
      // A new session id for this browser; the old one and every other session are gone.
      await startSession(request, account.id, 'Your password was changed. Your other sessions have ended.')
      return await reply.code(303).redirect('/profile')
    } catch (err) {
      return await profilePage(reply, err, {})
    }
  })

  app.get('/profile/close', guarded, async (_request, reply) => await reply.page('portal/close-account', { title: 'Close your account' }))

  app.post<{ Body: FormBody<typeof closeForm> }>('/profile/close', { ...limited, schema: closeForm }, async (request, reply) => {
    try {
      await profile.closeAccount(me(request).id, request.body.password, request.ip)
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/close-account', { title: 'Close your account' })
    }
    await request.session.destroy()
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    return await reply.code(303).redirect('/signin?notice=closed')
  })
}
