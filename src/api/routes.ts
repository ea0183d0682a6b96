import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Static, TSchema } from '@sinclair/typebox'
import type { Account as StoredAccount } from '../services/accounts/account-store'
import { Conflict, Invalid, NotFound, Refused, throwIfInvalid, whenMissing } from '../services/kernel/errors'
import type { Api as StoredApi, ApiInput } from '../services/catalog/apis'
import type { ProductInput } from '../services/catalog/products'
import type { UsageTotals } from '../services/usage/usage-reports'
import { usageRange } from '../routes/shared/usage'
import type { AdminAction, Subscription as StoredSubscription } from '../services/subscriptions/subscriptions'
import type { Member, Organisation as StoredOrganisation } from '../services/organisations/organisations'
import * as S from './schemas'
import * as R from './route-schemas'
import { actorOf } from '../http/request-account'

type Body<T extends TSchema> = Static<T>
type UserRecord = Static<typeof S.Account>
type IdParams = Body<typeof S.IdParams>

/** A call whose body is all optional may be sent with none. */
async function noBodyIsEmpty (request: FastifyRequest): Promise<void> {
  request.body ??= {}
}

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
    organisationId: s.organisation?.id ?? null,
    createdAt: s.createdAt,
    approvedAt: s.approvedAt,
    endedAt: s.endedAt,
    expiresAt: s.expiresAt
  }
}

/** Every management route: each one calls the service the matching page calls, nothing else. */
export default async function managementRoutes (app: FastifyInstance): Promise<void> {
  const { accounts, developers, invitations, groups, products, subscriptions, apis, organisations } = app.services

  /** Accounts as the API shows them, with their groups (one query for all). */
  async function users (accountsToShow: StoredAccount[]): Promise<UserRecord[]> {
    const memberships = await groups.groupsOf(accountsToShow.map((a) => a.id))
    return accountsToShow.map((a) => ({
      id: a.id, email: a.email, firstName: a.firstName, lastName: a.lastName, state: a.state, groups: memberships.get(a.id) ?? [], createdAt: a.createdAt, lastSignInAt: a.lastSignInAt
    }))
  }
  const user = async (account: StoredAccount): Promise<UserRecord> => (await users([account]))[0]

  // Users
  app.get<{ Querystring: Body<typeof S.UserQuery> }>('/users', R.listUsers, async (request) => {
    const { q, state, group, sort, page } = request.query
    const result = await developers.list({ q, state, groupId: group, sort, page })
    return { items: await users(result.rows), total: result.total, page: result.page, pageSize: result.pageSize }
  })

  app.post<{ Body: Body<typeof S.NewUser> }>('/users', R.createUser, async (request, reply) => {
    const { groups: groupIds, ...input } = request.body
    const account = await accounts.createAccount(input, groupIds ?? [], actorOf(request))
    return await reply.code(201).send(await user(account))
  })

  app.get<{ Params: IdParams }>('/users/:id', R.getUser, async (request) => {
    return await user((await accounts.getDeveloper(request.params.id)).account)
  })

  app.delete<{ Params: IdParams }>('/users/:id', R.deleteUser, async (request, reply) => {
    await accounts.deleteAccount(request.params.id, actorOf(request))
    return await reply.code(204).send()
  })

  app.post<{ Params: IdParams }>('/users/:id/block', R.blockUser, async (request) => {
    return await user(await accounts.blockAccount(request.params.id, actorOf(request)))
  })

  app.post<{ Params: IdParams }>('/users/:id/activate', R.activateUser, async (request) => {
    return await user(await accounts.activateAccount(request.params.id, actorOf(request)))
  })

  // Invitations
  app.get('/invitations', R.listInvitations, async () => {
    const pending = await invitations.listPendingInvitations()
    const items = pending.map((p) => ({
      id: p.account.id, email: p.account.email, firstName: p.account.firstName, lastName: p.account.lastName, invitedBy: p.invitedBy, sentAt: p.sentAt, expiresAt: p.expiresAt, expired: p.expired, emailStatus: p.emailStatus
    }))
    return { items, total: items.length, page: 1, pageSize: items.length }
  })

  const invited = (result: { account: StoredAccount, resent: boolean, expiresAt: string }): Static<typeof S.Invited> =>
    ({ id: result.account.id, email: result.account.email, firstName: result.account.firstName, lastName: result.account.lastName, resent: result.resent, expiresAt: result.expiresAt })

  app.post<{ Body: Body<typeof S.NewInvitation> }>('/invitations', R.invite, async (request, reply) => {
    const result = await invitations.inviteDeveloper(request.body, actorOf(request))
    return await reply.code(result.resent ? 200 : 201).send(invited(result))
  })

  app.post<{ Params: IdParams }>('/invitations/:id/resend', R.resendInvitation, async (request) => {
    return invited(await invitations.resendInvitation(request.params.id, actorOf(request)))
  })

  app.delete<{ Params: IdParams }>('/invitations/:id', R.revokeInvitation, async (request, reply) => {
    await invitations.revokeInvitation(request.params.id, actorOf(request))
    return await reply.code(204).send()
  })

  // Groups
  const group = (g: { id: number, name: string, description: string, systemKey: string | null, memberCount: number, createdAt: string }): Static<typeof S.Group> =>
    ({ id: g.id, name: g.name, description: g.description, system: g.systemKey !== null, memberCount: g.memberCount, createdAt: g.createdAt })

  app.get('/groups', R.listGroups, async () => {
    const items = (await groups.listGroups()).map(group)
    return { items, total: items.length, page: 1, pageSize: items.length }
  })

  app.post<{ Body: Body<typeof S.NewGroup> }>('/groups', R.createGroup, async (request, reply) => {
    const created = await groups.createGroup({ name: request.body.name, description: request.body.description ?? '' }, actorOf(request))
    return await reply.code(201).send(group(created))
  })

  app.delete<{ Params: IdParams }>('/groups/:id', R.deleteGroup, async (request, reply) => {
    await groups.deleteGroup(request.params.id, actorOf(request))
    return await reply.code(204).send()
  })

  app.get<{ Params: IdParams, Querystring: Body<typeof S.MembersQuery> }>('/groups/:id/members', R.listMembers, async (request) => {
    await groups.findGroup(request.params.id)
    const result = await groups.listMembers(request.params.id, request.query)
    return { items: await users(result.rows), total: result.total, page: result.page, pageSize: result.pageSize }
  })

  app.post<{ Params: IdParams, Body: Body<typeof S.NewMember> }>('/groups/:id/members', R.addMember, async (request, reply) => {
    const { email, userId } = request.body
    if ((email === undefined) === (userId === undefined)) throw new Invalid({ email: 'Give either email or userId.' })
    const field = email === undefined ? 'userId' : 'email'
    const result = email === undefined
      ? (await groups.addMemberById(request.params.id, userId ?? 0, actorOf(request)).catch(whenMissing('account', 'There is no account with this id.'))).result
      : await groups.addMemberByEmail(request.params.id, email, actorOf(request))
    if (result === 'added' || result === 'already a member') return await reply.code(result === 'added' ? 201 : 200).send({ result })
    if (result === 'not an email address') throw new Invalid({ [field]: 'Enter an email address like name@example.com.' })
    if (result === 'no such account') throw new NotFound(`There is no account with the email address ${email ?? ''}.`)
    throw new Refused('This account has a pending invitation: it can join groups once it is accepted.')
  })

  app.delete<{ Params: Body<typeof S.MemberParams> }>('/groups/:id/members/:userId', R.removeMember, async (request, reply) => {
    await groups.removeMember(request.params.id, request.params.userId, actorOf(request))
    return await reply.code(204).send()
  })

  // APIs
  const api = (a: StoredApi): Static<typeof S.Api> => ({
    id: a.id, name: a.name, path: a.path, serviceUrl: a.serviceUrl, description: a.description, hasDocument: a.hasDocument, format: a.format, createdAt: a.createdAt, updatedAt: a.updatedAt
  })
  const apiInput = (body: Body<typeof S.NewApi>): ApiInput => ({ name: body.name, path: body.path, serviceUrl: body.serviceUrl, description: body.description ?? '', openapi: '' })

  app.get('/apis', R.listApis, async () => {
    const items = (await apis.listApis()).map(api)
    return { items, total: items.length, page: 1, pageSize: items.length }
  })

  app.post<{ Body: Body<typeof S.NewApi> }>('/apis', R.createApi, async (request, reply) => {
    return await reply.code(201).send(api(await apis.createApi(apiInput(request.body), actorOf(request))))
  })

  app.get<{ Params: IdParams }>('/apis/:id', R.getApi, async (request) => api(await apis.findApi(request.params.id)))

  app.put<{ Params: IdParams, Body: Body<typeof S.NewApi> }>('/apis/:id', R.updateApi, async (request) => {
    return api(await apis.updateApi(request.params.id, apiInput(request.body), actorOf(request)))
  })

  app.delete<{ Params: IdParams }>('/apis/:id', R.deleteApi, async (request, reply) => {
    await apis.deleteApi(request.params.id, actorOf(request))
    return await reply.code(204).send()
  })

  app.get<{ Params: IdParams }>('/apis/:id/openapi', R.getOpenApi, async (request, reply) => {
    const { text, format } = await apis.findDocument(request.params.id)
    return await reply.type(format === 'yaml' ? 'application/yaml; charset=utf-8' : 'application/json; charset=utf-8').send(text)
  })

  // The document arrives as text (JSON or YAML), read by the same import as the form's.
  await app.register(async (documents) => {
    documents.removeContentTypeParser('application/json')
    documents.addContentTypeParser(['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'], { parseAs: 'string', bodyLimit: app.config.openapiMaxBytes },
      (_request, body, done) => { done(null, body) })
    documents.put<{ Params: IdParams, Body: string }>('/apis/:id/openapi', R.putOpenApi, async (request) => {
      const current = await apis.findApi(request.params.id)
      if (request.body.trim() === '') throw new Invalid({ openapi: 'Send the OpenAPI document in the body.' })
      const input = { name: current.name, path: current.path, serviceUrl: current.serviceUrl, description: current.description, openapi: request.body }
      return api(await apis.updateApi(current.id, input, actorOf(request)))
    })
  })

  // Products
  const productInput = (body: Body<typeof S.NewProduct>): ProductInput => {
    const text = (n: number | null | undefined): string => n === null || n === undefined ? '' : String(n)
    return {
      name: body.name,
      description: body.description ?? '',
      state: body.state ?? 'notPublished',
      subscriptionRequired: body.subscriptionRequired ?? true,
      approvalRequired: body.approvalRequired ?? false,
      subscriptionsLimit: text(body.subscriptionsLimit),
      terms: body.terms ?? '',
      rateLimitCalls: text(body.rateLimitCalls),
      rateLimitPeriod: text(body.rateLimitPeriod),
      quotaCalls: text(body.quotaCalls),
      quotaPeriod: body.quotaPeriod ?? '',
      ipAllow: (body.ipAllow ?? []).join('\n')
    }
  }
  const details = async (id: number) => await products.findDetails(id)

  app.post<{ Body: Body<typeof S.NewProduct> }>('/products', R.createProduct, async (request, reply) => {
    const created = await products.createProduct(productInput(request.body), actorOf(request))
    return await reply.code(201).send(await details(created.id))
  })

  app.put<{ Params: IdParams, Body: Body<typeof S.NewProduct> }>('/products/:id', R.updateProduct, async (request) => {
    await products.updateProduct(request.params.id, productInput(request.body), actorOf(request))
    return await details(request.params.id)
  })

  app.delete<{ Params: IdParams, Querystring: Body<typeof S.DeleteProductQuery> }>('/products/:id', R.deleteProduct, async (request, reply) => {
    await products.deleteProduct(request.params.id, request.query.cancelSubscriptions === true, actorOf(request))
    return await reply.code(204).send()
  })

  // An unknown API or group in the path is a 404, as any unknown id in a path.
  const missingAsNotFound = (what: string) => (err: unknown): never => {
    if (err instanceof Invalid && (err.fields.apiId !== undefined || err.fields.groupId !== undefined) && !(err instanceof Conflict)) throw new NotFound(`There is no ${what} with this id.`)
    throw err
  }
  app.put<{ Params: Body<typeof S.ProductLinkParams> }>('/products/:id/apis/:apiId', R.addProductApi, async (request) => {
    await products.addApi(request.params.id, request.params.apiId, actorOf(request)).catch(missingAsNotFound('API'))
    return await details(request.params.id)
  })
  app.delete<{ Params: Body<typeof S.ProductLinkParams> }>('/products/:id/apis/:apiId', R.removeProductApi, async (request) => {
    await products.removeApi(request.params.id, request.params.apiId, actorOf(request))
    return await details(request.params.id)
  })
  app.put<{ Params: Body<typeof S.ProductGroupParams> }>('/products/:id/groups/:groupId', R.addProductGroup, async (request) => {
    await products.addGroup(request.params.id, request.params.groupId, actorOf(request)).catch(missingAsNotFound('group'))
    return await details(request.params.id)
  })
  app.delete<{ Params: Body<typeof S.ProductGroupParams> }>('/products/:id/groups/:groupId', R.removeProductGroup, async (request) => {
    await products.removeGroup(request.params.id, request.params.groupId, actorOf(request))
    return await details(request.params.id)
  })

  app.get('/products', R.listProducts, async () => {
    const items = await products.listProducts()
    return { items, total: items.length, page: 1, pageSize: items.length }
  })

  app.get<{ Params: IdParams }>('/products/:id', R.getProduct, async (request) => {
    return await products.findDetails(request.params.id)
  })

  // Subscriptions
  app.get<{ Querystring: Body<typeof S.SubscriptionQuery> }>('/subscriptions', R.listSubscriptions, async (request) => {
    const { page, user: developer, ...filter } = request.query
    const result = await subscriptions.list({ ...filter, developer }, page)
    return { items: result.rows.map(toSubscription), total: result.total, page: result.page, pageSize: result.pageSize }
  })

  app.post<{ Body: Body<typeof S.NewSubscription> }>('/subscriptions', R.createSubscription, async (request, reply) => {
    const { userId, organisationId, productId, displayName } = request.body
    if ((userId === undefined) === (organisationId === undefined)) throw new Invalid({ userId: 'Give either userId or organisationId.' })
    const created = organisationId !== undefined
      ? await subscriptions.subscribeOrganisation(organisationId, { productId, displayName }, actorOf(request))
      : await subscriptions.subscribeOnBehalf(userId ?? 0, { productId, displayName }, actorOf(request)).catch(whenMissing('account', 'There is no account with this userId.'))
    return await reply.code(201).send(toSubscription(created))
  })

  // Organisations
  const organisation = (o: StoredOrganisation): Static<typeof S.Organisation> =>
    ({ id: o.id, name: o.name, description: o.description, state: o.state, memberCount: o.memberCount, createdAt: o.createdAt, updatedAt: o.updatedAt })
  const member = (m: Member): Static<typeof S.OrganisationMember> =>
    ({ userId: m.id, email: m.email, firstName: m.firstName, lastName: m.lastName, role: m.role, joinedAt: m.joinedAt })

  app.get<{ Querystring: Body<typeof S.OrganisationQuery> }>('/organisations', R.listOrganisations, async (request) => {
    const result = await organisations.list(request.query)
    return { items: result.rows.map(organisation), total: result.total, page: result.page, pageSize: result.pageSize }
  })

  app.post<{ Body: Body<typeof S.NewOrganisation> }>('/organisations', R.createOrganisation, async (request, reply) => {
    const { name, description, ownerEmail } = request.body
    return await reply.code(201).send(organisation(await organisations.createByAdmin({ name, description: description ?? '' }, ownerEmail ?? '', actorOf(request))))
  })

  app.get<{ Params: IdParams }>('/organisations/:id', R.getOrganisation, async (request) => organisation(await organisations.get(request.params.id)))

  app.put<{ Params: IdParams, Body: Body<typeof S.OrganisationUpdate> }>('/organisations/:id', R.updateOrganisation, async (request) =>
    organisation(await organisations.edit(request.params.id, { name: request.body.name, description: request.body.description ?? '' }, actorOf(request))))

  app.delete<{ Params: IdParams }>('/organisations/:id', R.deleteOrganisation, async (request, reply) => {
    await organisations.deleteOrganisation(request.params.id, actorOf(request))
    return await reply.code(204).send()
  })

  app.post<{ Params: IdParams }>('/organisations/:id/block', R.blockOrganisation, async (request) => organisation(await organisations.setState(request.params.id, 'blocked', actorOf(request))))
  app.post<{ Params: IdParams }>('/organisations/:id/activate', R.activateOrganisation, async (request) => organisation(await organisations.setState(request.params.id, 'active', actorOf(request))))

  app.get<{ Params: IdParams }>('/organisations/:id/members', R.listOrganisationMembers, async (request) => {
    const items = (await organisations.members(request.params.id)).map(member)
    return { items, total: items.length, page: 1, pageSize: items.length }
  })

  app.post<{ Params: IdParams, Body: Body<typeof S.NewOrganisationMember> }>('/organisations/:id/members', R.addOrganisationMember, async (request, reply) => {
    const result = await organisations.addMember(request.params.id, request.body.userId, request.body.role ?? 'member', actorOf(request))
    const added = (await organisations.members(request.params.id)).find((m) => m.id === request.body.userId)
    if (added === undefined) throw new NotFound('There is no account with this id.')
    return await reply.code(result === 'added' ? 201 : 200).send(member(added))
  })

  app.delete<{ Params: Body<typeof S.OrganisationMemberParams> }>('/organisations/:id/members/:userId', R.removeOrganisationMember, async (request, reply) => {
    await organisations.removeMember(request.params.id, null, request.params.userId, actorOf(request))
    return await reply.code(204).send()
  })

  interface StateChange { Params: IdParams, Body: Body<typeof S.StateChange> | undefined }
  const changeState = (action: AdminAction) => async (request: FastifyRequest<StateChange>) =>
    toSubscription(await subscriptions.changeState(request.params.id, action, actorOf(request), request.body?.reason))
  app.post<StateChange>('/subscriptions/:id/approve', { ...R.approveSubscription, preValidation: noBodyIsEmpty }, changeState('approve'))
  app.post<StateChange>('/subscriptions/:id/reject', { ...R.rejectSubscription, preValidation: noBodyIsEmpty }, changeState('reject'))
  app.post<StateChange>('/subscriptions/:id/suspend', { ...R.suspendSubscription, preValidation: noBodyIsEmpty }, changeState('suspend'))
  app.post<StateChange>('/subscriptions/:id/activate', { ...R.activateSubscription, preValidation: noBodyIsEmpty }, changeState('activate'))
  app.post<StateChange>('/subscriptions/:id/cancel', { ...R.cancelSubscription, preValidation: noBodyIsEmpty }, changeState('cancel'))

  // Usage
  app.get<{ Querystring: Body<typeof S.UsageQuery> }>('/usage', R.getUsage, async (request) => {
    const { from, to, errors } = usageRange(request.query)
    throwIfInvalid(errors)
    const report = await app.services.usage.report({ from, to, api: request.query.api, product: request.query.product, developer: request.query.user }, { by: [], per: 'day' })
    const figures = (t: UsageTotals) => ({ calls: t.calls, errors: t.errors, refused: t.refused, meanLatencyMs: t.meanLatencyMs, p50Ms: t.p50Ms, p95Ms: t.p95Ms, p99Ms: t.p99Ms })
    return { from, to, total: figures(report.total), days: report.periods.map((p) => ({ day: p.label, ...figures(p) })) }
  })

  app.post<{ Params: IdParams, Body: Body<typeof S.Regenerate> }>('/subscriptions/:id/regenerate', R.regenerateKey, async (request) => {
    const { key, ...subscription } = await subscriptions.regenerateKey(null, request.params.id, request.body.key, actorOf(request))
    return { ...toSubscription(subscription), key: { slot: request.body.key, value: key } }
  })
}
