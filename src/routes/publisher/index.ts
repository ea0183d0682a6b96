import type { FastifyInstance } from 'fastify'
import { requireAdmin } from '../../plugins/auth'
import developerRoutes from './developers'
import invitationAdminRoutes from './invitations'
import groupRoutes from './groups'
import auditRoutes from './audit'
import settingsRoutes from './settings'
import emailRoutes from './emails'
import emailTemplateRoutes from './email-templates'
import apiRoutes from './apis'
import productRoutes from './products'
import subscriptionAdminRoutes from './subscriptions'
import analyticsRoutes from './analytics'
import apiTokenRoutes from './api-tokens'
import identityRoutes from './identity'
import organisationAdminRoutes from './organisations'

/** The publisher portal: every route under /admin is for administrators only. */
export default async function publisherRoutes (app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', requireAdmin)
  // requireAdminMfa: an administrator without two-step sign-in turns it on before any /admin page.
  app.addHook('onRequest', async (request, reply) => {
    if (reply.sent || request.account === null) return
    if (!(await app.services.settings.getSettings()).requireAdminMfa || await app.services.mfa.isEnabled(request.account.id)) return
    await reply.code(303).redirect('/profile/mfa')
  })

  app.get('/', async (_request, reply) => {
    return await reply.page('publisher/home', {
      title: 'Publisher portal',
      overview: await app.services.overview.overview()
    })
  })

  await app.register(developerRoutes, { prefix: '/developers' })
  await app.register(groupRoutes, { prefix: '/groups' })
  await app.register(apiRoutes, { prefix: '/apis' })
  await app.register(productRoutes, { prefix: '/products' })
  await app.register(subscriptionAdminRoutes, { prefix: '/subscriptions' })
  await app.register(analyticsRoutes)
  await app.register(auditRoutes)
  await app.register(settingsRoutes)
  await app.register(invitationAdminRoutes, { prefix: '/invitations' })
  await app.register(emailRoutes, { prefix: '/emails' })
  await app.register(emailTemplateRoutes, { prefix: '/email-templates' })
  await app.register(apiTokenRoutes, { prefix: '/api-tokens' })
  await app.register(identityRoutes, { prefix: '/identity' })
  await app.register(organisationAdminRoutes, { prefix: '/organisations' })
}
