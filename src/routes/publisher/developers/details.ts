import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { DISPLAY_NAME_MAX } from '../../../services/subscriptions/subscriptions'
import { displayName } from '../../../services/accounts/account-store'
import { actorOf } from '../../../http/request-account'
import { formSchema, keptValues, showFormErrors, type FormBody } from '../../shared/forms'
import { formId, idParams, parseId } from '../../shared/params'
import { ACCOUNT_FIELDS } from '../../shared/account-fields'
import { Invalid } from '../../../services/kernel/errors'

/** Add user, and one developer's page: groups, subscriptions on their behalf, block, activate, delete. */

// Add user: the account's fields and the groups ticked (ids; one ticked box arrives as a single value).
const newDeveloperForm = formSchema(ACCOUNT_FIELDS, { groups: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9]{1,15}$' }), { maxItems: 1000 })) })
const groupForm = formSchema({ groupId: 20 })
const subscribeForm = formSchema({ productId: 20, displayName: DISPLAY_NAME_MAX * 4 })

export default async function developerDetailsRoutes (app: FastifyInstance): Promise<void> {
  const { accounts } = app.services

  async function showNewForm (data: Record<string, unknown>) {
    return { title: 'Add user', groups: await app.services.groups.listSummaries(), ...data }
  }

  app.get('/new', async (_request, reply) => {
    return await reply.page('publisher/developers/new', await showNewForm({ values: { groups: [] } }))
  })

  app.post<{ Body: FormBody<typeof newDeveloperForm> }>('/', { schema: newDeveloperForm }, async (request, reply) => {
    const groupIds = (request.body.groups ?? []).map(Number)
    try {
      const account = await accounts.createAccount(request.body, groupIds, actorOf(request))
      request.session.flash = `${displayName(account)} was added and is active.`
      return await reply.code(303).redirect(`/admin/developers/${account.id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/new', await showNewForm({ values: keptValues(request.body, 'password') }))
    }
  })

  /** The details page: the account, its groups, and the groups it could join. */
  async function detailsPage (id: number, data: Record<string, unknown> = {}) {
    const details = await accounts.getDeveloper(id)
    const joinable = await app.services.groups.joinableGroups(details.groups)
    const subscriptions = await app.services.subscriptions.listForDeveloper(id)
    const products = await app.services.products.listProducts()
    const mfa = await app.services.mfa.status(id)
    const identities = await app.services.providers.identitiesOf(id)
    return { title: `Developer: ${displayName(details.account)}`, ...details, joinable, subscriptions, products, mfa, identities, displayName, ...data }
  }

  // Two-step sign-in reset (a lost phone): a confirmation, then the reset; the developer is mailed.
  app.get<{ Params: { id: string } }>('/:id/mfa/reset', { schema: idParams }, async (request, reply) => {
    const { account } = await accounts.getDeveloper(parseId(request.params.id))
    return await reply.page('publisher/developers/mfa-reset', { title: `Reset two-step sign-in for ${displayName(account)}?`, account, mfa: await app.services.mfa.status(account.id), displayName })
  })

  app.post<{ Params: { id: string } }>('/:id/mfa/reset', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const id = parseId(request.params.id)
    const { account } = await accounts.getDeveloper(id)
    try {
      await app.services.mfa.reset(account, actorOf(request))
      request.session.flash = `Two-step sign-in was reset for ${displayName(account)}. They were mailed, and can turn it on again after signing in with their password.`
      return await reply.code(303).redirect(`/admin/developers/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id))
    }
  })

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    return await reply.page('publisher/developers/show', await detailsPage(parseId(request.params.id)))
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof groupForm> }>('/:id/groups', {
    schema: { ...idParams, ...groupForm }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      // The select starts on "Choose…": nobody joins a group (Administrators above all) by one stray click.
      const groupId = formId(request.body.groupId)
      if (groupId === 0) throw new Invalid({ groupId: 'Choose a group to add them to.' })
      const { group, result } = await app.services.groups.addMemberById(groupId, id, actorOf(request))
      request.session.flash = result === 'added' ? `Added to ${group.name}.` : `Not added to ${group.name}: ${result}.`
      return await reply.code(303).redirect(`/admin/developers/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id))
    }
  })

  app.post<{ Params: { id: string, groupId: string } }>('/:id/groups/:groupId/remove', {
    schema: { params: { type: 'object', properties: { id: { type: 'string', maxLength: 40 }, groupId: { type: 'string', maxLength: 40 } }, required: ['id', 'groupId'] }, ...formSchema({}) }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const { group } = await app.services.groups.removeMember(parseId(request.params.groupId), id, actorOf(request))
      request.session.flash = `Removed from ${group.name}.`
      return await reply.code(303).redirect(`/admin/developers/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id))
    }
  })

  // Subscribe the developer to a product on their behalf: active at once, the developer is mailed.
  app.post<{ Params: { id: string }, Body: FormBody<typeof subscribeForm> }>('/:id/subscriptions', {
    schema: { ...idParams, ...subscribeForm }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const subscription = await app.services.subscriptions.subscribeOnBehalf(id, { productId: formId(request.body.productId), displayName: request.body.displayName }, actorOf(request))
      request.session.flash = `Subscribed to ${subscription.productName} as ${subscription.displayName}. The developer was emailed.`
      return await reply.code(303).redirect(`/admin/developers/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id, { values: keptValues(request.body) }))
    }
  })

  app.get<{ Params: { id: string } }>('/:id/delete', { schema: idParams }, async (request, reply) => {
    const details = await accounts.getDeveloper(parseId(request.params.id))
    return await reply.page('publisher/developers/delete', { title: `Delete ${displayName(details.account)}?`, ...details, displayName })
  })

  /** Block, activate, delete: a 303 back with what happened, or the developer's page saying why not. */
  async function changeState (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, change: typeof accounts.blockAccount, done: string, then: (id: number) => string): Promise<FastifyReply> {
    const id = parseId(request.params.id)
    try {
      const account = await change(id, actorOf(request))
      request.session.flash = `${displayName(account)} ${done}`
      return await reply.code(303).redirect(then(id))
    } catch (err) {
      // Refused (their own account, the last administrator): the developer's page again, saying why.
      return await showFormErrors(reply, err, 'publisher/developers/show', await detailsPage(id))
    }
  }

  const stateChange = { schema: { ...idParams, ...formSchema({}) } }

  app.post<{ Params: { id: string } }>('/:id/block', stateChange, async (request, reply) =>
    await changeState(request, reply, accounts.blockAccount, 'is blocked. Their sessions have ended.', (id) => `/admin/developers/${id}`))

  app.post<{ Params: { id: string } }>('/:id/activate', stateChange, async (request, reply) =>
    await changeState(request, reply, accounts.activateAccount, 'is active again.', (id) => `/admin/developers/${id}`))

  app.post<{ Params: { id: string } }>('/:id/delete', stateChange, async (request, reply) =>
    await changeState(request, reply, accounts.deleteAccount, 'was deleted.', () => '/admin/developers'))
}
