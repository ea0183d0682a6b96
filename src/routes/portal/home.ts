import type { FastifyInstance } from 'fastify'
import { requireAccount } from '../../plugins/auth'

export default async function portalHomeRoutes (app: FastifyInstance): Promise<void> {
  const { accounts } = app.services

  app.get('/', async (_request, reply) => {
    // A fresh install has no administrator yet: the first-run page comes first.
    if (!(await accounts.hasAdministrator())) return await reply.code(303).redirect('/setup')
    return await reply.page('portal/home', { title: 'Developer portal' })
  })

  app.get('/profile', { onRequest: requireAccount }, async (_request, reply) => {
    return await reply.page('portal/profile', { title: 'Your profile' })
  })
}
