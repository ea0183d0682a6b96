import type { FastifyInstance } from 'fastify'
import { rateLimited } from '../../plugins/security'
import { startSession } from '../../plugins/auth'
import { displayName } from '../../services/accounts/account-store'
import { formSchema, showFormErrors, type FormBody } from '../shared/forms'
import { tokenParams } from '../shared/params'


/** Accepting an invitation: GET only shows (mail scanners open links), POST acts. */
const acceptForm = formSchema({ password: 1024 })

export default async function invitationRoutes (app: FastifyInstance): Promise<void> {
  const { invitations } = app.services

  app.get<{ Params: { token: string } }>('/invitations/:token', { schema: tokenParams, config: { secretPage: true } }, async (request, reply) => {
    const account = await invitations.findByToken(request.params.token)
    return await reply.page('portal/accept-invitation', { title: 'Accept your invitation', invited: account, displayName })
  })

  app.post<{ Params: { token: string }, Body: FormBody<typeof acceptForm> }>('/invitations/:token', {
    config: { ...rateLimited(app.config.rateLimitPerMinute), secretPage: true },
    schema: { ...tokenParams, ...acceptForm }
  }, async (request, reply) => {
    try {
      const account = await invitations.acceptInvitation(request.params.token, request.body.password, request.ip)
      await startSession(request, account.id, `Welcome, ${account.firstName}! Your account is active.`)
      return await reply.code(303).redirect('/')
    } catch (err) {
      // A link that stopped working throws again here (404/410); a weak password shows the form again.
      const account = await invitations.findByToken(request.params.token)
      return await showFormErrors(reply, err, 'portal/accept-invitation', { title: 'Accept your invitation', invited: account, displayName })
    }
  })
}
