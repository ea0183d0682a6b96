import { Type, type TSchema } from '@sinclair/typebox'
import * as S from './schemas'

/**
 * Each management route's schema: its operationId, tag, summary and description, inputs, the
 * answers it gives (each described) and only the errors it can answer. They check the requests,
 * shape the answers and make /api/v1/openapi.json; routes.ts holds only what each call does.
 */

// Why each error status comes, as the document says it.
const ERROR_WHY: Record<number, string> = {
  400: 'The data sent is not valid: `fields` has a message per field.',
  401: 'No token, or a token that is unknown, expired or revoked.',
  403: 'The token\'s administrator is no longer one (blocked, deleted or out of Administrators).',
  404: 'There is nothing with this id.',
  409: 'Refused by the current state, with the reason (such as a name already taken).',
  413: 'The document is larger than OPENAPI_MAX_MB.',
  429: 'Too many calls with this token (or failed authentications from this address); see Retry-After.'
}
const error = (status: number) => Type.Ref('Error', { description: ERROR_WHY[status] })

// A call that takes no query parameters refuses any (400), as every other unexpected input.
const NoQuery = Type.Object({}, { additionalProperties: false })

interface Parts { params?: TSchema, querystring?: TSchema, body?: TSchema, consumes?: string[], produces?: string[] }
/** Every call can be refused for its token (401, 403) and for its rate (429); each names the other errors it can give. */
function spec (operationId: string, tag: string, summary: string, description: string, parts: Parts, responses: Record<number, TSchema>, errors: number[]) {
  const response: Record<number, TSchema> = { ...responses }
  // Anything in the path, the query or the body is checked: 400.
  for (const status of [400, ...errors, 401, 403, 429].sort()) response[status] = error(status)
  return { schema: { operationId, tags: [tag], summary, description, querystring: NoQuery, ...parts, response } }
}

const described = <T extends TSchema>(schema: T, description: string): T => ({ ...schema, description })
const NoContent = (description: string) => Type.Null({ description })
const params = S.IdParams

// Users
export const listUsers = spec('listUsers', 'users', 'List developers', 'The developers list with the filters, sort and paging of /admin/developers (pending invitations are not listed).', { querystring: S.UserQuery }, { 200: described(S.ListOf(S.Account, 'UserList'), 'One page of accounts.') }, [])
export const createUser = spec('createUser', 'users', 'Add a user', 'Active at once, in Developers and the groups given. With a password the welcome email is sent; without one, a single-use link to choose it.', { body: S.NewUser }, { 201: described(S.Account, 'The account, created.') }, [409])
export const getUser = spec('getUser', 'users', 'Get a user', 'One account with its groups.', { params }, { 200: described(S.Account, 'The account.') }, [404])
export const deleteUser = spec('deleteUser', 'users', 'Delete a user', 'Its subscriptions are cancelled and the farewell email is sent.', { params }, { 204: NoContent('Deleted.') }, [404, 409])
export const blockUser = spec('blockUser', 'users', 'Block a user', 'Sessions end, sign-in is refused, its keys stop working on the next call.', { params }, { 200: described(S.Account, 'The account, blocked.') }, [404, 409])
export const activateUser = spec('activateUser', 'users', 'Activate a user', 'A blocked account becomes active again.', { params }, { 200: described(S.Account, 'The account, active.') }, [404, 409])

// Invitations
export const listInvitations = spec('listInvitations', 'invitations', 'List pending invitations', 'Invitations not yet accepted, newest first, with their email\'s status.', {}, { 200: described(S.ListOf(S.Invitation, 'InvitationList'), 'Every pending invitation.') }, [])
export const invite = spec('inviteUser', 'invitations', 'Invite a user', 'The invitation email is sent (201); an address with a pending invitation gets a new link instead (200).', { body: S.NewInvitation }, { 200: described(S.Invited, 'A new link replaced the pending one.'), 201: described(S.Invited, 'Invited.') }, [409])
export const resendInvitation = spec('resendInvitation', 'invitations', 'Resend an invitation', 'A new link is sent; the old one stops working.', { params }, { 200: described(S.Invited, 'Sent again.') }, [404, 409])
export const revokeInvitation = spec('revokeInvitation', 'invitations', 'Revoke an invitation', 'The link stops working and the pending account goes.', { params }, { 204: NoContent('Revoked.') }, [404])

// Groups
export const listGroups = spec('listGroups', 'groups', 'List groups', 'Every group, the built-in ones first.', {}, { 200: described(S.ListOf(S.Group, 'GroupList'), 'Every group.') }, [])
export const createGroup = spec('createGroup', 'groups', 'Create a group', 'A custom group, empty.', { body: S.NewGroup }, { 201: described(S.Group, 'The group, created.') }, [409])
export const deleteGroup = spec('deleteGroup', 'groups', 'Delete a group', 'A custom group; its memberships and product visibility go with it.', { params }, { 204: NoContent('Deleted.') }, [404, 409])
export const listMembers = spec('listMembers', 'groups', 'List a group\'s members', 'Its members, paged, optionally filtered by name or email.', { params, querystring: S.MembersQuery }, { 200: described(S.ListOf(S.Account, 'MemberList'), 'One page of members.') }, [404])
export const addMember = spec('addMember', 'groups', 'Add a member', 'By email or userId: 201 when added, 200 when already a member.', { params, body: S.NewMember }, { 200: described(S.MemberAdded, 'Already a member.'), 201: described(S.MemberAdded, 'Added.') }, [404, 409])
export const removeMember = spec('removeMember', 'groups', 'Remove a member', 'Never from Developers, and never the last active administrator from Administrators.', { params: S.MemberParams }, { 204: NoContent('Removed.') }, [404, 409])

// APIs
export const listApis = spec('listApis', 'apis', 'List APIs', 'Every API, by name.', {}, { 200: described(S.ListOf(S.Api, 'ApiList'), 'Every API.') }, [])
export const createApi = spec('createApi', 'apis', 'Create an API', 'With the same checks as the form; its document is sent next with PUT …/openapi.', { body: S.NewApi }, { 201: described(S.Api, 'The API, created.') }, [409])
export const getApi = spec('getApi', 'apis', 'Get an API', 'One API.', { params }, { 200: described(S.Api, 'The API.') }, [404])
export const updateApi = spec('updateApi', 'apis', 'Update an API', 'Its name, path, backend and description; the document stays.', { params, body: S.NewApi }, { 200: described(S.Api, 'The API, updated.') }, [404, 409])
export const deleteApi = spec('deleteApi', 'apis', 'Delete an API', 'It leaves every product; calls to its path get 404 from the next one.', { params }, { 204: NoContent('Deleted.') }, [404])
export const getOpenApi = spec('getOpenApi', 'apis', 'Get an API\'s OpenAPI document', 'The document as it was imported (JSON or YAML, its own content type).', { params, produces: ['application/json', 'application/yaml'] }, { 200: described(S.OpenApiText, 'The document.') }, [404])
export const putOpenApi = spec('putOpenApi', 'apis', 'Replace an API\'s OpenAPI document', 'The same checks as the form: a document that cannot be read is refused with the reason and where (400). The reference shows it from the next page.',
  { params, body: S.OpenApiText, consumes: ['application/json', 'application/yaml'] }, { 200: described(S.Api, 'The API with its new document.') }, [404, 409, 413])

// Products
export const listProducts = spec('listProducts', 'products', 'List products', 'Every product.', {}, { 200: described(S.ListOf(S.Product, 'ProductList'), 'Every product.') }, [])
export const getProduct = spec('getProduct', 'products', 'Get a product', 'One product with its APIs and the groups that may see it.', { params }, { 200: described(S.ProductDetails, 'The product.') }, [404])
export const createProduct = spec('createProduct', 'products', 'Create a product', 'With the product form\'s fields and checks; not published unless state says so.', { body: S.NewProduct }, { 201: described(S.ProductDetails, 'The product, created.') }, [409])
export const updateProduct = spec('updateProduct', 'products', 'Update a product', 'Every field of the form (those left out take their defaults); changes to limits apply from the next call.', { params, body: S.NewProduct }, { 200: described(S.ProductDetails, 'The product, updated.') }, [404, 409])
export const deleteProduct = spec('deleteProduct', 'products', 'Delete a product', 'Refused while it has live subscriptions, unless cancelSubscriptions is true.', { params, querystring: S.DeleteProductQuery }, { 204: NoContent('Deleted.') }, [404, 409])
export const addProductApi = spec('addProductApi', 'products', 'Add an API to a product', 'Its subscribers may call the API from the next call.', { params: S.ProductLinkParams }, { 200: described(S.ProductDetails, 'The product with the API.') }, [404, 409])
export const removeProductApi = spec('removeProductApi', 'products', 'Remove an API from a product', 'Its subscribers\' keys stop working for that API on the next call.', { params: S.ProductLinkParams }, { 200: described(S.ProductDetails, 'The product without the API.') }, [404])
export const addProductGroup = spec('addProductGroup', 'products', 'Show a product to a group', 'Members of the group see the product in the developer portal.', { params: S.ProductGroupParams }, { 200: described(S.ProductDetails, 'The product with the group.') }, [404, 409])
export const removeProductGroup = spec('removeProductGroup', 'products', 'Hide a product from a group', 'Members of the group no longer see it (existing subscriptions keep working).', { params: S.ProductGroupParams }, { 200: described(S.ProductDetails, 'The product without the group.') }, [404])

// Subscriptions
export const listSubscriptions = spec('listSubscriptions', 'subscriptions', 'List subscriptions', 'Every subscription, newest first, filtered by state, product or owner.', { querystring: S.SubscriptionQuery }, { 200: described(S.ListOf(S.Subscription, 'SubscriptionList'), 'One page of subscriptions.') }, [])
export const createSubscription = spec('createSubscription', 'subscriptions', 'Subscribe a user or an organisation', 'To a product, on the user\'s (or the organisation\'s) behalf: active at once; the user (or the organisation\'s owners) are emailed.', { body: S.NewSubscription }, { 201: described(S.Subscription, 'The subscription, active.') }, [404, 409])
const stateChange = (operationId: string, summary: string, description: string) => spec(operationId, 'subscriptions', summary, description, { params, body: S.StateChange }, { 200: described(S.Subscription, 'The subscription in its new state.') }, [404, 409])
export const approveSubscription = stateChange('approveSubscription', 'Approve a subscription', 'A request becomes active; the owner is emailed and the keys work.')
export const rejectSubscription = stateChange('rejectSubscription', 'Reject a subscription request', 'A reason is required; the owner is emailed it.')
export const suspendSubscription = stateChange('suspendSubscription', 'Suspend a subscription', 'Its keys stop working until it is activated.')
export const activateSubscription = stateChange('activateSubscription', 'Activate a subscription', 'A suspended subscription\'s keys work again; the owner is emailed.')
export const cancelSubscription = stateChange('cancelSubscription', 'Cancel a subscription', 'Its keys stop for good.')
export const regenerateKey = spec('regenerateKey', 'subscriptions', 'Regenerate a key', 'The old key stops at once; the new one is in the answer (and on its owner\'s page); the owner is emailed.', { params, body: S.Regenerate }, { 200: described(S.Regenerated, 'The subscription with its new key.') }, [404, 409])

// Organisations
export const listOrganisations = spec('listOrganisations', 'organisations', 'List organisations', 'By name, paged, optionally filtered by part of the name.', { querystring: S.OrganisationQuery }, { 200: described(S.ListOf(S.Organisation, 'OrganisationList'), 'One page of organisations.') }, [])
export const createOrganisation = spec('createOrganisation', 'organisations', 'Create an organisation', 'Its name is unique; ownerEmail, when given, makes that active account its first owner.', { body: S.NewOrganisation }, { 201: described(S.Organisation, 'The organisation, created.') }, [409])
export const getOrganisation = spec('getOrganisation', 'organisations', 'Get an organisation', 'One organisation.', { params }, { 200: described(S.Organisation, 'The organisation.') }, [404])
export const updateOrganisation = spec('updateOrganisation', 'organisations', 'Update an organisation', 'Its name and description.', { params, body: S.OrganisationUpdate }, { 200: described(S.Organisation, 'The organisation, updated.') }, [404, 409])
export const deleteOrganisation = spec('deleteOrganisation', 'organisations', 'Delete an organisation', 'Its subscriptions are cancelled (their keys stop at once); its members keep their accounts.', { params }, { 204: NoContent('Deleted.') }, [404])
export const blockOrganisation = spec('blockOrganisation', 'organisations', 'Block an organisation', 'Every one of its keys stops on the next call (within a second on other instances).', { params }, { 200: described(S.Organisation, 'The organisation, blocked.') }, [404])
export const activateOrganisation = spec('activateOrganisation', 'organisations', 'Activate an organisation', 'Its keys work again.', { params }, { 200: described(S.Organisation, 'The organisation, active.') }, [404])
export const listOrganisationMembers = spec('listOrganisationMembers', 'organisations', 'List an organisation\'s members', 'Owners first, then by name.', { params }, { 200: described(S.ListOf(S.OrganisationMember, 'OrganisationMemberList'), 'Every member.') }, [404])
export const addOrganisationMember = spec('addOrganisationMember', 'organisations', 'Add a member', 'An active account joins at once, as a member unless role says owner; 200 when it was one already.', { params, body: S.NewOrganisationMember }, { 200: described(S.OrganisationMember, 'Already a member (its role set as given).'), 201: described(S.OrganisationMember, 'Added.') }, [404, 409])
export const removeOrganisationMember = spec('removeOrganisationMember', 'organisations', 'Remove a member', 'Never the last owner. The organisation\'s keys keep working; the member no longer sees them.', { params: S.OrganisationMemberParams }, { 204: NoContent('Removed.') }, [404, 409])

// Usage
export const getUsage = spec('getUsage', 'usage', 'Get usage by day', 'Calls, errors, refusals and latency through the gateway by day (UTC), as on /admin/analytics; at most a year.', { querystring: S.UsageQuery }, { 200: described(S.Usage, 'The figures of each day of the range, and their total.') }, [])
