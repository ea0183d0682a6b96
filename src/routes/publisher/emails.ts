import type { FastifyInstance } from 'fastify'
import { NotFound } from '../../services/kernel/errors'
import { idParams, pageProperty, pagedTitle, parseId, querySchema } from '../shared/params'

export default async function emailRoutes (app: FastifyInstance): Promise<void> {
  const smtp = app.services.mailSender.enabled

  app.get<{ Querystring: { page?: number } }>('/', { schema: querySchema(pageProperty) }, async (request, reply) => {
    const result = await app.services.emails.list(request.query.page)
    return await reply.page('publisher/emails/list', { title: pagedTitle('Emails', result), result, smtp })
  })

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    const email = await app.services.emails.find(parseId(request.params.id))
    if (email === null) throw new NotFound('There is no email with this id.')
    return await reply.page('publisher/emails/show', { title: `Email to ${email.toAddress}: ${email.subject}`, email, smtp })
  })
}
