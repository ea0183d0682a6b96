import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import type { Account as StoredAccount } from '../services/accounts/account-store'
import { Invalid, NotFound, Refused } from '../services/kernel/errors'
import { ADMIN_ACTION_NAMES, type Subscription as StoredSubscription } from '../services/subscriptions/subscriptions'
import * as S from './schemas'
import { actorOf } from '../http/request-account'

type Body<T extends TSchema> = Static<T>
type UserRecord = Static<typeof S.Account>

const ErrorRef = Type.Ref('Error')
const ERRORS = { 400: ErrorRef, 401: ErrorRef, 403: ErrorRef, 404: ErrorRef, 409: ErrorRef, 429: ErrorRef }

/** A route's schema: its tag, summary, inputs, the answers it gives and every error answer. */
// A call that takes no query parameters refuses any (400), as every other unexpected input.
const NoQuery = Type.Object({}, { additionalProperties: false })

function spec (tag: string, summary: string, parts: { params?: TSchema, querystring?: TSchema, body?: TSchema }, response: Record<number, TSchema>) {
  return { schema: { tags: [tag], summary, querystring: NoQuery, ...parts, response: { ...ERRORS, ...response } } }
}

/** A call whose body is all optional may be sent with none. */
async function noBodyIsEmpty (request: FastifyRequest): Promise<void> {
  request.body ??= {}
}

const NoContent = Type.Null({ description: 'Done; no content.' })

function toSubscription (s: StoredSubscription): Static<typeof S.Subscription> {
  return {
    id: s.id,
    displayName: s.displayName,
    state: s.state,
    stateReason: s.stateReason,
    productId: s.productId,
    productName: s.productName,
    userId: s.owner?.id ?? null,
    userEmail: s.owner?.email ?? null,
    createdAt: s.createdAt,
    approvedAt: s.approvedAt,
    endedAt: s.endedAt,
    expiresAt: s.expiresAt
  }
}

/** Every management route: each one calls the service the matching page calls, nothing else. */
export default async function managementRoutes (app: FastifyInstance): Promise<void> {
  const { accounts, developers, invitations, groups, products, subscriptions } = app.services

  /** Accounts as the API shows them, with their groups (one query for all). */
  async function users (accountsToShow: StoredAccount[]): Promise<UserRecord[]> {
    const memberships = await groups.groupsOf(accountsToShow.map((a) => a.id))
    return accountsToShow.map((a) => ({
      id: a.id, email: a.email, firstName: a.firstName, lastName: a.lastName, state: a.state, groups: memberships.get(a.id) ?? [], createdAt: a.createdAt, lastSignInAt: a.lastSignInAt
    }))
  }
  const user = async (account: StoredAccount): Promise<UserRecord> => (await users([account]))[0]

  // Users
  app.get<{ Querystring: Body<typeof S.UserQuery> }>('/users', spec('users', 'The developers list: filters, sort and paging as on /admin/developers (pending invitations are not listed)', { querystring: S.UserQuery }, { 200: S.ListOf(S.Account, 'UserList') }), async (request) => {
    const { q, state, group, sort, page } = request.query
    const result = await developers.list({ q, state, groupId: group, sort, page })
    return { items: await users(result.rows), total: result.total, page: result.page, pageSize: result.pageSize }
  })

  app.post<{ Body: Body<typeof S.NewUser> }>('/users', spec('users', 'Add a user: active at once, in Developers and the groups given; the welcome email is sent', { body: S.NewUser }, { 201: S.Account }), async (request, reply) => {
    const { groups: groupIds, ...input } = request.body
    const account = await accounts.createAccount(input, groupIds ?? [], actorOf(request))
    return await reply.code(201).send(await user(account))
  })

  app.get<{ Params: Body<typeof S.IdParams> }>('/users/:id', spec('users', 'One account', { params: S.IdParams }, { 200: S.Account }), async (request) => {
    return await user((await accounts.getDeveloper(request.params.id)).account)
  })

  app.delete<{ Params: Body<typeof S.IdParams> }>('/users/:id', spec('users', 'Delete an account: its subscriptions are cancelled, the farewell email is sent', { params: S.IdParams }, { 204: NoContent }), async (request, reply) => {
    await accounts.deleteAccount(request.params.id, actorOf(request))
    return await reply.code(204).send()
  })

  for (const [action, change, summary] of [
    ['block', accounts.blockAccount, 'Block: sessions end, sign-in is refused, keys stop working'],
    ['activate', accounts.activateAccount, 'Activate a blocked account']
  ] as const) {
    app.post<{ Params: Body<typeof S.IdParams> }>(`/users/:id/${action}`, spec('users', summary, { params: S.IdParams }, { 200: S.Account }), async (request) => {
      return await user(await change(request.params.id, actorOf(request)))
    })
  }

  // Invitations
  app.get('/invitations', spec('invitations', 'Pending invitations', {}, { 200: S.ListOf(S.Invitation, 'InvitationList') }), async () => {
    const pending = await invitations.listPendingInvitations()
    const items = pending.map((p) => ({
      id: p.account.id, email: p.account.email, firstName: p.account.firstName, lastName: p.account.lastName, invitedBy: p.invitedBy, sentAt: p.sentAt, expiresAt: p.expiresAt, expired: p.expired, emailStatus: p.emailStatus
    }))
    return { items, total: items.length, page: 1, pageSize: items.length }
  })

  const invited = (result: { account: StoredAccount, resent: boolean, expiresAt: string }): Static<typeof S.Invited> =>
    ({ id: result.account.id, email: result.account.email, firstName: result.account.firstName, lastName: result.account.lastName, resent: result.resent, expiresAt: result.expiresAt })

  app.post<{ Body: Body<typeof S.NewInvitation> }>('/invitations', spec('invitations', 'Invite: the invitation email is sent (201); an address with a pending invitation gets a new link (200)', { body: S.NewInvitation }, { 200: S.Invited, 201: S.Invited }), async (request, reply) => {
    const result = await invitations.inviteDeveloper(request.body, actorOf(request))
    return await reply.code(result.resent ? 200 : 201).send(invited(result))
  })

  app.post<{ Params: Body<typeof S.IdParams> }>('/invitations/:id/resend', spec('invitations', 'Send a new link; the old one stops working', { params: S.IdParams }, { 200: S.Invited }), async (request) => {
    return invited(await invitations.resendInvitation(request.params.id, actorOf(request)))
  })

  app.delete<{ Params: Body<typeof S.IdParams> }>('/invitations/:id', spec('invitations', 'Revoke: the link stops working and the pending account goes', { params: S.IdParams }, { 204: NoContent }), async (request, reply) => {
    await invitations.revokeInvitation(request.params.id, actorOf(request))
    return await reply.code(204).send()
  })

  // Groups
  const group = (g: { id: number, name: string, description: string, systemKey: string | null, memberCount: number, createdAt: string }): Static<typeof S.Group> =>
    ({ id: g.id, name: g.name, description: g.description, system: g.systemKey !== null, memberCount: g.memberCount, createdAt: g.createdAt })

  app.get('/groups', spec('groups', 'Every group', {}, { 200: S.ListOf(S.Group, 'GroupList') }), async () => {
    const items = (await groups.listGroups()).map(group)
    return { items, total: items.length, page: 1, pageSize: items.length }
  })

  app.post<{ Body: Body<typeof S.NewGroup> }>('/groups', spec('groups', 'Create a custom group', { body: S.NewGroup }, { 201: S.Group }), async (request, reply) => {
    const created = await groups.createGroup({ name: request.body.name, description: request.body.description ?? '' }, actorOf(request))
    return await reply.code(201).send(group(created))
  })

  app.delete<{ Params: Body<typeof S.IdParams> }>('/groups/:id', spec('groups', 'Delete a custom group (its memberships go with it)', { params: S.IdParams }, { 204: NoContent }), async (request, reply) => {
    await groups.deleteGroup(request.params.id, actorOf(request))
    return await reply.code(204).send()
  })

  app.get<{ Params: Body<typeof S.IdParams>, Querystring: Body<typeof S.MembersQuery> }>('/groups/:id/members', spec('groups', 'Members of a group', { params: S.IdParams, querystring: S.MembersQuery }, { 200: S.ListOf(S.Account, 'MemberList') }), async (request) => {
    await groups.findGroup(request.params.id)
    const result = await groups.listMembers(request.params.id, request.query)
    return { items: await users(result.rows), total: result.total, page: result.page, pageSize: result.pageSize }
  })

  app.post<{ Params: Body<typeof S.IdParams>, Body: Body<typeof S.NewMember> }>('/groups/:id/members', spec('groups', 'Add a member, by email or userId (201; 200 when already a member)', { params: S.IdParams, body: S.NewMember }, { 200: S.MemberAdded, 201: S.MemberAdded }), async (request, reply) => {
    const { email, userId } = request.body
    if ((email === undefined) === (userId === undefined)) throw new Invalid({ email: 'Give either email or userId.' })
    const field = email === undefined ? 'userId' : 'email'
    const result = email === undefined
      ? (await groups.addMemberById(request.params.id, userId ?? 0, actorOf(request)).catch((err: unknown) => { throw err instanceof NotFound && !err.message.includes('group') ? new NotFound('There is no account with this id.') : err })).result
      : await groups.addMemberByEmail(request.params.id, email, actorOf(request))
    if (result === 'added' || result === 'already a member') return await reply.code(result === 'added' ? 201 : 200).send({ result })
    if (result === 'not an email address') throw new Invalid({ [field]: 'Enter an email address like name@example.com.' })
    if (result === 'no such account') throw new NotFound(`There is no account with the email address ${email ?? ''}.`)
    throw new Refused('This account has a pending invitation: it can join groups once it is accepted.')
  })

  app.delete<{ Params: Body<typeof S.MemberParams> }>('/groups/:id/members/:userId', spec('groups', 'Remove a member (never from Developers; never the last administrator from Administrators)', { params: S.MemberParams }, { 204: NoContent }), async (request, reply) => {
    await groups.removeMember(request.params.id, request.params.userId, actorOf(request))
    return await reply.code(204).send()
  })

  // Products
  app.get('/products', spec('products', 'Every product', {}, { 200: S.ListOf(S.Product, 'ProductList') }), async () => {
    const items = await products.listProducts()
    return { items, total: items.length, page: 1, pageSize: items.length }
  })

  app.get<{ Params: Body<typeof S.IdParams> }>('/products/:id', spec('products', 'One product with its APIs and the groups that may see it', { params: S.IdParams }, { 200: S.ProductDetails }), async (request) => {
    return await products.findDetails(request.params.id)
  })

  // Subscriptions
  app.get<{ Querystring: Body<typeof S.SubscriptionQuery> }>('/subscriptions', spec('subscriptions', 'Every subscription, newest first', { querystring: S.SubscriptionQuery }, { 200: S.ListOf(S.Subscription, 'SubscriptionList') }), async (request) => {
    const { page, user: developer, ...filter } = request.query
    const result = await subscriptions.list({ ...filter, developer }, page)
    return { items: result.rows.map(toSubscription), total: result.total, page: result.page, pageSize: result.pageSize }
  })

  app.post<{ Body: Body<typeof S.NewSubscription> }>('/subscriptions', spec('subscriptions', 'Subscribe a user to a product: active at once; the user is emailed', { body: S.NewSubscription }, { 201: S.Subscription }), async (request, reply) => {
    const { userId, productId, displayName } = request.body
    const created = await subscriptions.subscribeOnBehalf(userId, { productId, displayName }, actorOf(request)).catch((err: unknown) => {
      throw err instanceof NotFound ? new NotFound('There is no account with this userId.') : err
    })
    return await reply.code(201).send(toSubscription(created))
  })

  for (const action of ADMIN_ACTION_NAMES) {
    const summary = action === 'reject' ? 'Reject a request (a reason is required; the user is emailed it)' : `${action[0].toUpperCase()}${action.slice(1)} the subscription`
    app.post<{ Params: Body<typeof S.IdParams>, Body: Body<typeof S.StateChange> | undefined }>(`/subscriptions/:id/${action}`, { ...spec('subscriptions', summary, { params: S.IdParams, body: S.StateChange }, { 200: S.Subscription }), preValidation: noBodyIsEmpty }, async (request) => {
      return toSubscription(await subscriptions.changeState(request.params.id, action, actorOf(request), request.body?.reason))
    })
  }

  app.post<{ Params: Body<typeof S.IdParams>, Body: Body<typeof S.Regenerate> }>('/subscriptions/:id/regenerate', spec('subscriptions', 'Regenerate a key: the old one stops at once; the new one is in the answer (and on its owner\'s page)', { params: S.IdParams, body: S.Regenerate }, { 200: S.Regenerated }), async (request) => {
    const { key, ...subscription } = await subscriptions.regenerateKey(null, request.params.id, request.body.key, actorOf(request))
    return { ...toSubscription(subscription), key: { slot: request.body.key, value: key } }
  })
}
