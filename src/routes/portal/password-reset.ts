import type { FastifyInstance } from 'fastify'
import { rateLimited } from '../../plugins/security'
import { afterResponse, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { tokenParams } from '../shared/params'
import { ACCOUNT_FIELDS } from '../shared/account-fields'

const emailForm = formSchema({ email: 1000 })
const newPasswordForm = formSchema({ password: ACCOUNT_FIELDS.password })

export default async function passwordResetRoutes (app: FastifyInstance): Promise<void> {
  const { passwordReset } = app.services
  const limited = rateLimited(app.config.rateLimitPerMinute)

  app.get('/password-reset', async (_request, reply) => await reply.page('portal/password-reset', { title: 'Reset your password' }))

  app.post<{ Body: FormBody<typeof emailForm> }>('/password-reset', { config: limited, schema: emailForm }, async (request, reply) => {
    try {
      afterResponse(reply, await passwordReset.requestPasswordReset(request.body.email))
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/password-reset', { title: 'Reset your password', values: keptValues(request.body) })
    }
    return await reply.page('portal/check-email', {
      title: 'Check your email for a password reset link',
      message: 'If an active account uses this address, a link to choose a new password is on its way. It works for one hour.'
    })
  })

  const resetPage = async (token: string) => ({ title: 'Choose a new password', account: await passwordReset.findPasswordReset(token) })

  app.get<{ Params: { token: string } }>('/password-reset/:token', { schema: tokenParams, config: { secretPage: true } }, async (request, reply) => {
    return await reply.page('portal/new-password', await resetPage(request.params.token))
  })

  app.post<{ Params: { token: string }, Body: FormBody<typeof newPasswordForm> }>('/password-reset/:token', {
    config: { ...limited, secretPage: true }, schema: { ...tokenParams, ...newPasswordForm }
  }, async (request, reply) => {
    try {
      await passwordReset.resetPassword(request.params.token, request.body.password, request.ip)
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/new-password', await resetPage(request.params.token))
    }
    // Every session of the account has ended, this browser's too if it had one.
    await request.session.regenerate()
    request.session.flash = 'Your password was changed. Sign in with the new one.'
    return await reply.code(303).redirect('/signin')
  })
}
