import { Type, type TSchema } from '@sinclair/typebox'
import * as S from './schemas'

/**
 * Each management route's schema: its tag, summary, inputs, the answers it gives and every error
 * answer. They check the requests, shape the answers and make /api/v1/openapi.json; routes.ts
 * holds only what each call does.
 */

const ErrorRef = Type.Ref('Error')
const ERRORS = { 400: ErrorRef, 401: ErrorRef, 403: ErrorRef, 404: ErrorRef, 409: ErrorRef, 429: ErrorRef }

// A call that takes no query parameters refuses any (400), as every other unexpected input.
const NoQuery = Type.Object({}, { additionalProperties: false })

function spec (tag: string, summary: string, parts: { params?: TSchema, querystring?: TSchema, body?: TSchema }, response: Record<number, TSchema>) {
  return { schema: { tags: [tag], summary, querystring: NoQuery, ...parts, response: { ...ERRORS, ...response } } }
}

const NoContent = Type.Null({ description: 'Done; no content.' })
const params = S.IdParams

// Users
export const listUsers = spec('users', 'The developers list: filters, sort and paging as on /admin/developers (pending invitations are not listed)', { querystring: S.UserQuery }, { 200: S.ListOf(S.Account, 'UserList') })
export const createUser = spec('users', 'Add a user: active at once, in Developers and the groups given; the welcome email is sent', { body: S.NewUser }, { 201: S.Account })
export const getUser = spec('users', 'One account', { params }, { 200: S.Account })
export const deleteUser = spec('users', 'Delete an account: its subscriptions are cancelled, the farewell email is sent', { params }, { 204: NoContent })
export const blockUser = spec('users', 'Block: sessions end, sign-in is refused, keys stop working', { params }, { 200: S.Account })
export const activateUser = spec('users', 'Activate a blocked account', { params }, { 200: S.Account })

// Invitations
export const listInvitations = spec('invitations', 'Pending invitations', {}, { 200: S.ListOf(S.Invitation, 'InvitationList') })
export const invite = spec('invitations', 'Invite: the invitation email is sent (201); an address with a pending invitation gets a new link (200)', { body: S.NewInvitation }, { 200: S.Invited, 201: S.Invited })
export const resendInvitation = spec('invitations', 'Send a new link; the old one stops working', { params }, { 200: S.Invited })
export const revokeInvitation = spec('invitations', 'Revoke: the link stops working and the pending account goes', { params }, { 204: NoContent })

// Groups
export const listGroups = spec('groups', 'Every group', {}, { 200: S.ListOf(S.Group, 'GroupList') })
export const createGroup = spec('groups', 'Create a custom group', { body: S.NewGroup }, { 201: S.Group })
export const deleteGroup = spec('groups', 'Delete a custom group (its memberships go with it)', { params }, { 204: NoContent })
export const listMembers = spec('groups', 'Members of a group', { params, querystring: S.MembersQuery }, { 200: S.ListOf(S.Account, 'MemberList') })
export const addMember = spec('groups', 'Add a member, by email or userId (201; 200 when already a member)', { params, body: S.NewMember }, { 200: S.MemberAdded, 201: S.MemberAdded })
export const removeMember = spec('groups', 'Remove a member (never from Developers; never the last administrator from Administrators)', { params: S.MemberParams }, { 204: NoContent })

// Products
export const listProducts = spec('products', 'Every product', {}, { 200: S.ListOf(S.Product, 'ProductList') })
export const getProduct = spec('products', 'One product with its APIs and the groups that may see it', { params }, { 200: S.ProductDetails })

// Subscriptions
export const listSubscriptions = spec('subscriptions', 'Every subscription, newest first', { querystring: S.SubscriptionQuery }, { 200: S.ListOf(S.Subscription, 'SubscriptionList') })
export const createSubscription = spec('subscriptions', 'Subscribe a user to a product: active at once; the user is emailed', { body: S.NewSubscription }, { 201: S.Subscription })
const stateChange = (summary: string) => spec('subscriptions', summary, { params, body: S.StateChange }, { 200: S.Subscription })
export const approveSubscription = stateChange('Approve the subscription')
export const rejectSubscription = stateChange('Reject a request (a reason is required; the user is emailed it)')
export const suspendSubscription = stateChange('Suspend the subscription')
export const activateSubscription = stateChange('Activate the subscription')
export const cancelSubscription = stateChange('Cancel the subscription')
export const regenerateKey = spec('subscriptions', 'Regenerate a key: the old one stops at once; the new one is in the answer (and on its owner\'s page)', { params, body: S.Regenerate }, { 200: S.Regenerated })
