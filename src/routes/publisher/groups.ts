import type { FastifyInstance } from 'fastify'
import { displayName } from '../../services/accounts/account-store'
import { BULK_MAX, GROUP_DESCRIPTION_MAX, GROUP_NAME_MAX, type MemberResult } from '../../services/groups/groups'
import { EMAIL_MAX_LENGTH } from '../../services/accounts/account-rules'
import { Type } from '@sinclair/typebox'
import { formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, pageProperty, pagedTitle, parseId, querySchema } from '../shared/params'
import { actorOf } from '../../http/request-account'

const groupForm = formSchema({ name: GROUP_NAME_MAX * 10, description: GROUP_DESCRIPTION_MAX * 4 })
// One address, or many (one a line): the page has both forms.
const memberForm = formSchema({}, { email: Type.Optional(Type.String({ maxLength: EMAIL_MAX_LENGTH * 4 })), emails: Type.Optional(Type.String({ maxLength: BULK_MAX * 300 })) })
const memberParams = {
  params: { type: 'object', properties: { id: { type: 'string', maxLength: 40 }, developerId: { type: 'string', maxLength: 40 } }, required: ['id', 'developerId'] }
}
const membersQuery = querySchema({ q: { type: 'string', maxLength: 200 }, ...pageProperty })


/** Why an address was not added, said beside the field. */
const NOT_ADDED: Record<Exclude<MemberResult, 'added'>, (email: string) => string> = {
  'not an email address': () => 'Enter an email address like name@example.com.',
  'no such account': (email) => `There is no account with the email address ${email}.`,
  'pending invitation': (email) => `${email} has a pending invitation: they can join groups once they accept it.`,
  'already a member': (email) => `${email} is already a member of this group.`
}

export default async function groupRoutes (app: FastifyInstance): Promise<void> {
  const { groups } = app.services

  async function listPage (data: Record<string, unknown> = {}) {
    return { title: 'Groups', groups: await groups.listGroups(), ...data }
  }

  async function groupPage (id: number, query: { q?: string, page?: number }, data: Record<string, unknown> = {}) {
    const group = await groups.findGroup(id)
    const members = await groups.listMembers(id, query)
    return { title: pagedTitle(`Group: ${group.name}`, members), group, members, query, displayName, ...data }
  }

  app.get('/', async (_request, reply) => await reply.page('publisher/groups/list', await listPage()))

  app.post<{ Body: FormBody<typeof groupForm> }>('/', { schema: groupForm }, async (request, reply) => {
    try {
      const group = await groups.createGroup(request.body, actorOf(request))
      request.session.flash = `The group ${group.name} was created.`
      return await reply.code(303).redirect(`/admin/groups/${group.id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/groups/list', await listPage({ values: keptValues(request.body) }))
    }
  })

  app.get<{ Params: { id: string }, Querystring: { q?: string, page?: number } }>('/:id', { schema: { ...idParams, ...membersQuery } }, async (request, reply) => {
    return await reply.page('publisher/groups/show', await groupPage(parseId(request.params.id), request.query))
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof groupForm> }>('/:id', { schema: { ...idParams, ...groupForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const group = await groups.updateGroup(id, request.body, actorOf(request))
      request.session.flash = `The group ${group.name} was saved.`
      return await reply.code(303).redirect(`/admin/groups/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/groups/show', await groupPage(id, {}, { values: keptValues(request.body) }))
    }
  })

  app.get<{ Params: { id: string } }>('/:id/delete', { schema: idParams }, async (request, reply) => {
    const group = await groups.findGroup(parseId(request.params.id))
    return await reply.page('publisher/groups/delete', { title: `Delete ${group.name}?`, group })
  })

  app.post<{ Params: { id: string } }>('/:id/delete', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const group = await groups.deleteGroup(parseId(request.params.id), actorOf(request))
    request.session.flash = `The group ${group.name} was deleted.`
    return await reply.code(303).redirect('/admin/groups')
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof memberForm> }>('/:id/members', {
    schema: { ...idParams, ...memberForm }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    const actor = actorOf(request)
    try {
      if (request.body.emails !== undefined) {
        const results = await groups.addMembersByEmail(id, request.body.emails, actor)
        // Nothing added: the answer is a refusal (409), shown as one.
        const added = results.some((r) => r.result === 'added')
        return await reply.page('publisher/groups/show', await groupPage(id, {}, { results, resultsRefused: !added }), added ? 200 : 409)
      }
      const email = (request.body.email ?? '').trim()
      const result = await groups.addMemberByEmail(id, email, actor)
      if (result !== 'added') {
        const status = result === 'not an email address' ? 400 : 409
        return await reply.page('publisher/groups/show', await groupPage(id, {}, { values: { email }, errors: { email: NOT_ADDED[result](email) } }), status)
      }
      request.session.flash = `${email} was added to the group.`
      return await reply.code(303).redirect(`/admin/groups/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/groups/show', await groupPage(id, {}, { values: keptValues(request.body) }))
    }
  })

  app.post<{ Params: { id: string, developerId: string } }>('/:id/members/:developerId/remove', {
    schema: { ...memberParams, ...formSchema({}) }
  }, async (request, reply) => {
    const { group, account } = await groups.removeMember(parseId(request.params.id), parseId(request.params.developerId), actorOf(request))
    request.session.flash = `${displayName(account)} was removed from ${group.name}.`
    return await reply.code(303).redirect(`/admin/groups/${group.id}`)
  })
}
