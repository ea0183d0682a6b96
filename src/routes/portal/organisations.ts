import type { FastifyInstance, FastifyReply } from 'fastify'
import { requireAccount } from '../../plugins/auth'
import { rateLimited } from '../../plugins/security'
import { ORGANISATION_DESCRIPTION_MAX, ORGANISATION_NAME_MAX } from '../../services/organisations/organisations'
import { EMAIL_MAX_LENGTH } from '../../services/accounts/account-rules'
import { displayName } from '../../services/accounts/account-store'
import { actorOf, signedIn } from '../../http/request-account'
import { Refused } from '../../services/kernel/errors'
import { formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, parseId, tokenParams } from '../shared/params'

const organisationForm = formSchema({ name: ORGANISATION_NAME_MAX * 4, description: ORGANISATION_DESCRIPTION_MAX * 4 })
const inviteForm = formSchema({ email: EMAIL_MAX_LENGTH * 4 })
const roleForm = formSchema({ role: 20 })
const memberParams = { params: { type: 'object', properties: { id: { type: 'string', maxLength: 40 }, accountId: { type: 'string', maxLength: 40 } }, required: ['id', 'accountId'] } }

/** Organisations in the developer portal: mine, create, one organisation's page (members only), invitations, roles, leaving. */
export default async function organisationRoutes (app: FastifyInstance): Promise<void> {
  const { organisations } = app.services
  const guarded = { onRequest: requireAccount }

  async function listPage (reply: FastifyReply, data: Record<string, unknown> = {}, status = 200): Promise<FastifyReply> {
    const me = signedIn(reply.request)
    const mine = await organisations.listMine(me.id)
    const mayCreate = me.isAdmin || (await app.services.settings.getSettings()).developersCreateOrganisations
    return await reply.page('portal/organisations/list', { title: 'Your organisations', organisations: mine, mayCreate, ...data }, status)
  }

  /** The organisation's page, for the signed-in member (anyone else: 404). */
  async function pageData (reply: FastifyReply, id: number, data: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const me = signedIn(reply.request)
    const details = await organisations.getForMember(id, me.id)
    return {
      title: `${details.organisation.name} (your organisation)`, ...details, isOwner: details.role === 'owner', displayName, meId: me.id,
      subscriptions: await app.services.subscriptions.listForOrganisation(id),
      values: { name: details.organisation.name, description: details.organisation.description }, ...data
    }
  }

  const showPage = async (reply: FastifyReply, id: number): Promise<FastifyReply> => await reply.page('portal/organisations/show', await pageData(reply, id))

  /** An owner's action on the organisation's page: a flash and back, or the page again with the reason. */
  async function act (reply: FastifyReply, id: number, work: () => Promise<string>, data: Record<string, unknown> = {}, then = `/organisations/${id}`): Promise<FastifyReply> {
    try {
      reply.request.session.flash = await work()
      return await reply.code(303).redirect(then)
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/organisations/show', await pageData(reply, id, data))
    }
  }

  app.get('/organisations', guarded, async (_request, reply) => await listPage(reply))

  app.post<{ Body: FormBody<typeof organisationForm> }>('/organisations', { ...guarded, schema: organisationForm }, async (request, reply) => {
    try {
      const organisation = await organisations.createOrganisation(signedIn(request), request.body, actorOf(request))
      request.session.flash = `${organisation.name} was created. You are its owner: invite your team.`
      return await reply.code(303).redirect(`/organisations/${organisation.id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'portal/organisations/list', {
        title: 'Your organisations', organisations: await organisations.listMine(signedIn(request).id), mayCreate: true, values: keptValues(request.body)
      })
    }
  })

  // The link in the email: GET shows, POST joins. Only the invited account can join with it.
  app.get<{ Params: { token: string } }>('/organisations/join/:token', { ...guarded, schema: tokenParams, config: { secretPage: true } }, async (request, reply) => {
    const join = await organisations.findJoin(request.params.token, signedIn(request).id)
    return await reply.page('portal/organisations/join', { title: `Join ${join.organisation.name}`, ...join, token: request.params.token })
  })

  app.post<{ Params: { token: string } }>('/organisations/join/:token', {
    ...guarded, config: { ...rateLimited(app.config.rateLimitPerMinute), secretPage: true }, schema: { ...tokenParams, ...formSchema({}) }
  }, async (request, reply) => {
    const organisation = await organisations.acceptJoin(request.params.token, signedIn(request), actorOf(request))
    request.session.flash = `You joined ${organisation.name}.`
    return await reply.code(303).redirect(`/organisations/${organisation.id}`)
  })

  app.get<{ Params: { id: string } }>('/organisations/:id', { ...guarded, schema: idParams }, async (request, reply) => await showPage(reply, parseId(request.params.id)))

  app.post<{ Params: { id: string }, Body: FormBody<typeof organisationForm> }>('/organisations/:id', { ...guarded, schema: { ...idParams, ...organisationForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    return await act(reply, id, async () => {
      const organisation = await organisations.rename(id, signedIn(request).id, request.body, actorOf(request))
      return `Saved: the organisation is called ${organisation.name}.`
    }, { values: keptValues(request.body) })
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof inviteForm> }>('/organisations/:id/invitations', {
    ...guarded, config: rateLimited(app.config.rateLimitPerMinute), schema: { ...idParams, ...inviteForm }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    const email = request.body.email.trim()
    return await act(reply, id, async () => {
      await organisations.invite(id, signedIn(request), email, actorOf(request))
      return `An invitation to join is on its way to ${email}.`
    }, { inviteEmail: email })
  })

  // Removing and leaving ask first: a page that says what happens, with the button.
  app.get<{ Params: { id: string, accountId: string } }>('/organisations/:id/members/:accountId/remove', { ...guarded, schema: memberParams }, async (request, reply) => {
    const id = parseId(request.params.id)
    const accountId = parseId(request.params.accountId)
    const details = await organisations.getForMember(id, signedIn(request).id)
    const member = details.members.find((m) => m.id === accountId)
    if (details.role !== 'owner' || member === undefined || accountId === signedIn(request).id) return await showPage(reply, id)
    return await reply.page('portal/organisations/confirm', {
      title: `Remove ${member.email} from ${details.organisation.name}?`, organisation: details.organisation, action: `/organisations/${id}/members/${accountId}/remove`, button: 'Remove member',
      text: `${displayName(member)} (${member.email}) no longer sees ${details.organisation.name} or the keys of its subscriptions, from their next page. The keys keep working: the organisation holds them.`
    })
  })

  app.get<{ Params: { id: string } }>('/organisations/:id/leave', { ...guarded, schema: idParams }, async (request, reply) => {
    const id = parseId(request.params.id)
    const { organisation } = await organisations.getForMember(id, signedIn(request).id)
    return await reply.page('portal/organisations/confirm', {
      title: `Leave ${organisation.name}?`, organisation, action: `/organisations/${id}/leave`, button: 'Leave the organisation',
      text: `You no longer see ${organisation.name} or the keys of its subscriptions. Its owners can invite you again.`
    })
  })

  app.post<{ Params: { id: string, accountId: string } }>('/organisations/:id/members/:accountId/remove', {
    ...guarded, schema: { ...memberParams, ...formSchema({}) }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    const accountId = parseId(request.params.accountId)
    return await act(reply, id, async () => {
      if (accountId === signedIn(request).id) throw new Refused('To leave the organisation yourself, use Leave.')
      await organisations.removeMember(id, signedIn(request).id, accountId, actorOf(request))
      return 'The member was removed: they no longer see the organisation or its keys.'
    })
  })

  app.post<{ Params: { id: string, accountId: string }, Body: FormBody<typeof roleForm> }>('/organisations/:id/members/:accountId/role', {
    ...guarded, schema: { ...memberParams, ...roleForm }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    return await act(reply, id, async () => {
      await organisations.changeRole(id, signedIn(request).id, parseId(request.params.accountId), request.body.role, actorOf(request))
      return request.body.role === 'owner' ? 'They are now an owner.' : 'They are now a member.'
    })
  })

  app.post<{ Params: { id: string } }>('/organisations/:id/leave', { ...guarded, schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const id = parseId(request.params.id)
    return await act(reply, id, async () => `You left ${(await organisations.leave(id, signedIn(request).id, actorOf(request))).name}.`, {}, '/organisations')
  })
}
