import type { FastifyInstance } from 'fastify'
import { findEmail, listEmails } from '../../services/mail/outbox'
import { NotFound } from '../../services/errors'
import { idParams, parseId, querySchema } from '../shared/forms'

export default async function emailRoutes (app: FastifyInstance): Promise<void> {
  const smtp = app.services.mailSender.enabled

  app.get<{ Querystring: { page?: number } }>('/', { schema: querySchema({ page: { type: 'integer', minimum: 1, maximum: 1000000 } }) }, async (request, reply) => {
    const result = await listEmails(app.db, request.query.page)
    return await reply.page('publisher/emails/list', { title: 'Emails', result, smtp })
  })

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    const email = await findEmail(app.db, parseId(request.params.id), { sealer: smtp ? null : app.services.linkSealer })
    if (email === null) throw new NotFound('There is no email with this id.')
    return await reply.page('publisher/emails/show', { title: email.subject, email, smtp })
  })
}
