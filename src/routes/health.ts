import type { FastifyInstance } from 'fastify'

export default async function healthRoutes (app: FastifyInstance): Promise<void> {
  app.get('/healthz', async (request, reply) => {
    try {
      await app.services.health.databaseAnswers()
    } catch (err) {
      request.log.error({ err }, 'health check: database did not answer')
      return await reply.code(503).type('text/plain').send('database unavailable')
    }
    return await reply.type('text/plain').send('ok')
  })
}
