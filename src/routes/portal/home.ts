import type { FastifyInstance } from 'fastify'

export default async function portalHomeRoutes (app: FastifyInstance): Promise<void> {
  const { accounts } = app.services

  app.get('/', async (_request, reply) => {
    // A fresh install has no administrator yet: the first-run page comes first.
    if (!(await accounts.hasAdministrator())) return await reply.code(303).redirect('/setup')
    return await reply.page('portal/home', { title: 'Developer portal' })
  })
}
