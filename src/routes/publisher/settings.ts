import type { FastifyInstance } from 'fastify'
import { ORG_NAME_MAX, TERMS_MAX } from '../../services/settings/settings'
import { checkbox, formSchema, showFormErrors, type FormBody } from '../shared/forms'
import { actorOf } from '../../http/request-account'
import { Type } from '@sinclair/typebox'

const settingsForm = formSchema({ termsOfUse: TERMS_MAX * 2, orgName: ORG_NAME_MAX * 10 }, {
  signupEnabled: checkbox(),
  // The sign-in checkboxes are read only when the form says it carries them: a script that posts
  // the older fields alone (an unticked box sends nothing) does not turn password sign-in off.
  signInFields: Type.Optional(Type.Literal('1')),
  passwordSignIn: checkbox(),
  autoRedirect: checkbox(),
  requireAdminMfa: checkbox(),
  organisationFields: Type.Optional(Type.Literal('1')),
  developersCreateOrganisations: checkbox()
})

export default async function settingsRoutes (app: FastifyInstance): Promise<void> {
  const { settings } = app.services

  app.get('/settings', async (_request, reply) => {
    return await reply.page('publisher/settings', { title: 'Settings', values: await settings.getSettings() })
  })

  app.post<{ Body: FormBody<typeof settingsForm> }>('/settings', { schema: settingsForm }, async (request, reply) => {
    const { body } = request
    const signIn = body.signInFields === '1'
      ? { passwordSignIn: body.passwordSignIn === 'on', autoRedirect: body.autoRedirect === 'on', requireAdminMfa: body.requireAdminMfa === 'on' }
      : {}
    const organisations = body.organisationFields === '1' ? { developersCreateOrganisations: body.developersCreateOrganisations === 'on' } : {}
    const values = { signupEnabled: body.signupEnabled === 'on', termsOfUse: body.termsOfUse, orgName: body.orgName, ...signIn, ...organisations }
    try {
      await settings.saveSettings(values, actorOf(request))
      request.session.flash = 'Settings saved.'
      return await reply.code(303).redirect('/admin/settings')
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/settings', { title: 'Settings', values: { ...(await settings.getSettings()), ...values } })
    }
  })
}
