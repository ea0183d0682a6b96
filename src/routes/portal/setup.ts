import type { FastifyInstance } from 'fastify'
import { NotFound } from '../../services/kernel/errors'
import { formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { ACCOUNT_FIELDS } from '../shared/account-fields'
import { startSession } from '../../plugins/auth'

/** First run: create the first administrator; 404 once one exists. */
const setupForm = formSchema(ACCOUNT_FIELDS)

export default async function setupRoutes (app: FastifyInstance): Promise<void> {
  const { accounts } = app.services

  app.get('/setup', async (_request, reply) => {
    if (await accounts.hasAdministrator()) throw new NotFound()
    return await reply.page('portal/setup', { title: 'Set up Portico' })
  })

  app.post<{ Body: FormBody<typeof setupForm> }>('/setup', { schema: setupForm }, async (request, reply) => {
    if (await accounts.hasAdministrator()) throw new NotFound()
    try {
      const account = await accounts.createFirstAdministrator(request.body, request.ip)
      await startSession(request, account.id, 'Your administrator account is ready. Welcome to the publisher portal.')
      return await reply.code(303).redirect('/admin')
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/setup', { title: 'Set up Portico', values: keptValues(request.body, 'password') })
    }
  })
}
