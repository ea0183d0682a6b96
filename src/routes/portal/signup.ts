import type { FastifyInstance, FastifyRequest } from 'fastify'
import { rateLimited } from '../../plugins/security'
import { NotFound } from '../../services/kernel/errors'
import { afterResponse, checkbox, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { tokenParams } from '../shared/params'
import { ACCOUNT_FIELDS } from '../shared/account-fields'

const signUpForm = formSchema(ACCOUNT_FIELDS, { acceptTerms: checkbox() })
const emailForm = formSchema({ email: 1000 })

/** Self sign-up and its confirmation link. Closed (404) when an admin turns sign-up off. */
export default async function signUpRoutes (app: FastifyInstance): Promise<void> {
  const { signUp, settings } = app.services
  const limited = rateLimited(app.config.rateLimitPerMinute)

  async function signUpOpen (): Promise<string> {
    const current = await settings.getSettings()
    if (!current.signupEnabled || !current.passwordSignIn) throw new NotFound('Sign-up is closed. Ask the portal administrators for an invitation.')
    return current.termsOfUse
  }

  const signUpPage = async (data: Record<string, unknown> = {}) => ({ title: 'Sign up', terms: await signUpOpen(), ...data })

  app.get('/signup', async (_request, reply) => await reply.page('portal/signup', await signUpPage()))

  app.post<{ Body: FormBody<typeof signUpForm> }>('/signup', {
    config: limited,
    schema: signUpForm
  }, async (request, reply) => {
    await signUpOpen()
    try {
      await signUp.signUp({ ...request.body, acceptTerms: request.body.acceptTerms === 'on' }, request.ip)
      return await reply.code(303).redirect('/signup/sent')
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/signup', await signUpPage({ values: keptValues(request.body, 'password') }))
    }
  })

  app.get('/signup/sent', async (_request, reply) => await reply.page('portal/check-email', {
    title: 'Check your email to confirm your account',
    message: 'If the address can be used, a confirmation link is on its way. Open it to activate your account.'
  }))

  app.get('/signup/resend', async (_request, reply) => await reply.page('portal/resend-confirmation', { title: 'Resend the confirmation' }))

  app.post<{ Body: FormBody<typeof emailForm> }>('/signup/resend', { config: limited, schema: emailForm }, async (request, reply) => {
    try {
      afterResponse(reply, await signUp.resendConfirmation(request.body.email))
      return await reply.code(303).redirect('/signup/sent')
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/resend-confirmation', { title: 'Resend the confirmation', values: keptValues(request.body) })
    }
  })

  const confirmPage = async (request: FastifyRequest<{ Params: { token: string } }>) =>
    ({ title: 'Confirm your account', pending: await signUp.findConfirmation(request.params.token) })

  app.get<{ Params: { token: string } }>('/confirm/:token', { schema: tokenParams, config: { secretPage: true } }, async (request, reply) => {
    return await reply.page('portal/confirm', await confirmPage(request))
  })

  app.post<{ Params: { token: string } }>('/confirm/:token', { config: { ...limited, secretPage: true }, schema: { ...tokenParams, ...formSchema({}) } }, async (request, reply) => {
    const account = await signUp.confirmSignUp(request.params.token, request.ip)
    request.session.flash = `Your account ${account.email} is active. Sign in to continue.`
    return await reply.code(303).redirect('/signin')
  })
}
