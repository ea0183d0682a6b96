import type { FastifyInstance } from 'fastify'
import { actorOf } from '../../plugins/auth'
import { displayName } from '../../services/accounts/account-store'
import { formatDate } from '../../format'
import { formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { ACCOUNT_FIELDS } from '../shared/account-fields'
import { idParams, parseId } from '../shared/params'

const inviteForm = formSchema({ firstName: ACCOUNT_FIELDS.firstName, lastName: ACCOUNT_FIELDS.lastName, email: ACCOUNT_FIELDS.email })

export default async function invitationAdminRoutes (app: FastifyInstance): Promise<void> {
  const { invitations, mailSender } = app.services

  app.get('/', async (_request, reply) => {
    const pending = await invitations.listPendingInvitations()
    return await reply.page('publisher/invitations/list', { title: 'Invitations', pending, displayName, smtp: mailSender.enabled })
  })

  app.get('/new', async (_request, reply) => {
    return await reply.page('publisher/invitations/new', { title: 'Invite user' })
  })

  app.post<{ Body: FormBody<typeof inviteForm> }>('/', { schema: inviteForm }, async (request, reply) => {
    try {
      const { account, resent, expiresAt } = await invitations.inviteDeveloper(request.body, actorOf(request))
      request.session.flash = resent
        ? `${account.email} already had a pending invitation: a new link was sent and the old one no longer works.`
        : `Invitation sent to ${displayName(account)} (${account.email}). The link works until ${formatDate(expiresAt)}.`
      return await reply.code(303).redirect('/admin/invitations')
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/invitations/new', { title: 'Invite user', values: keptValues(request.body) })
    }
  })

  app.post<{ Params: { id: string } }>('/:id/resend', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const { account, expiresAt } = await invitations.resendInvitation(parseId(request.params.id), actorOf(request))
    request.session.flash = `A new invitation was sent to ${account.email}; it works until ${formatDate(expiresAt)}. The old link no longer works.`
    return await reply.code(303).redirect('/admin/invitations')
  })

  app.get<{ Params: { id: string } }>('/:id/revoke', { schema: idParams }, async (request, reply) => {
    const account = await invitations.getPendingInvitation(parseId(request.params.id))
    return await reply.page('publisher/invitations/revoke', { title: `Revoke the invitation of ${account.email}?`, invited: account, displayName })
  })

  app.post<{ Params: { id: string } }>('/:id/revoke', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const account = await invitations.revokeInvitation(parseId(request.params.id), actorOf(request))
    request.session.flash = `The invitation of ${account.email} was revoked; its link no longer works.`
    return await reply.code(303).redirect('/admin/invitations')
  })
}
