import { ORGANISATION_DESCRIPTION_MAX, ORGANISATION_NAME_MAX } from '../services/organisations/organisations'
import { Type, type TSchema } from '@sinclair/typebox'
import { EMAIL_MAX_LENGTH, NAME_MAX_LENGTH } from '../services/accounts/account-rules'
import { PASSWORD_MAX_LENGTH } from '../services/accounts/passwords'
import { SORTS, type DeveloperSort } from '../services/accounts/developer-list'
import { GROUP_DESCRIPTION_MAX, GROUP_NAME_MAX } from '../services/groups/groups'
import { SUBSCRIPTION_STATES } from '../services/subscriptions/subscription-states'
import { DISPLAY_NAME_MAX, REASON_MAX } from '../services/subscriptions/subscriptions'
import { QUOTA_PERIODS } from '../services/catalog/products'
import { KEY_SLOTS } from '../services/subscriptions/key-store'
import { API_NAME_MAX, API_PATH_MAX, DESCRIPTION_MAX, SERVICE_URL_MAX } from '../services/catalog/apis'

/**
 * The management API's JSON Schemas: they check every request, shape every answer (nothing a
 * schema does not name leaves the server), and make /api/v1/openapi.json.
 */

// Ids are the database's integers: at most 2^31 - 1.
export const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 })
const Time = Type.String({ format: 'date-time' })
/** A string from a fixed list (an OpenAPI enum). */
const Enum = <T extends string>(values: readonly T[], description?: string) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...(description === undefined ? {} : { description }) })
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const IdParams = Type.Object({ id: Id })
export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  fields: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'A message per field that is not valid.' }))
}, { $id: 'Error', title: 'Error' })

export const GroupRef = Type.Object({ id: Id, name: Type.String() })

export const Account = Type.Object({
  id: Id,
  email: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  state: Enum(['pending', 'active', 'blocked'] as const),
  groups: Type.Array(GroupRef),
  createdAt: Time,
  lastSignInAt: Nullable(Time)
}, { title: 'User' })

export function ListOf<T extends TSchema> (item: T, title: string) {
  return Type.Object({
    items: Type.Array(item),
    total: Type.Integer({ minimum: 0 }),
    page: Type.Integer({ minimum: 1 }),
    pageSize: Type.Integer({ minimum: 0 })
  }, { title })
}

const Page = Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 }))
const Text = (maxLength: number, description?: string) => Type.String({ maxLength, description })

export const UserQuery = Type.Object({
  q: Type.Optional(Text(200, 'Part of the name or email address.')),
  state: Type.Optional(Enum(['active', 'blocked'] as const)),
  group: Type.Optional(Id),
  sort: Type.Optional(Enum(Object.keys(SORTS) as DeveloperSort[], 'name, email or registered; a leading - for descending.')),
  page: Page
}, { additionalProperties: false })

export const NewUser = Type.Object({
  email: Text(EMAIL_MAX_LENGTH * 2),
  firstName: Text(NAME_MAX_LENGTH * 2),
  lastName: Text(NAME_MAX_LENGTH * 2),
  password: Type.Optional(Text(PASSWORD_MAX_LENGTH * 2, 'Optional: without it the account is active and mailed a single-use link to choose its password.')),
  groups: Type.Optional(Type.Array(Id, { maxItems: 1000, description: 'Ids of groups to join besides Developers.' }))
}, { additionalProperties: false })

export const Invitation = Type.Object({
  id: Id,
  email: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  invitedBy: Nullable(Type.String()),
  sentAt: Time,
  expiresAt: Time,
  expired: Type.Boolean(),
  emailStatus: Nullable(Type.String())
}, { title: 'Invitation' })

export const NewInvitation = Type.Object({
  email: Text(EMAIL_MAX_LENGTH * 2),
  firstName: Text(NAME_MAX_LENGTH * 2),
  lastName: Text(NAME_MAX_LENGTH * 2)
}, { additionalProperties: false })

export const Invited = Type.Object({
  id: Id,
  email: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  resent: Type.Boolean({ description: 'True when the address already had a pending invitation: a new link replaced the old one.' }),
  expiresAt: Time
}, { title: 'Invited' })

export const Group = Type.Object({
  id: Id,
  name: Type.String(),
  description: Type.String(),
  system: Type.Boolean({ description: 'Administrators, Developers and Guests are built in.' }),
  memberCount: Type.Integer({ minimum: 0 }),
  createdAt: Time
}, { title: 'Group' })

export const NewGroup = Type.Object({
  name: Text(GROUP_NAME_MAX * 4),
  description: Type.Optional(Text(GROUP_DESCRIPTION_MAX * 4))
}, { additionalProperties: false })

export const MembersQuery = Type.Object({ q: Type.Optional(Text(200)), page: Page }, { additionalProperties: false })

export const NewMember = Type.Object({
  email: Type.Optional(Text(EMAIL_MAX_LENGTH * 2)),
  userId: Type.Optional(Id)
}, { additionalProperties: false, description: 'The account to add: its email address or its id.' })

export const MemberAdded = Type.Object({
  result: Enum(['added', 'already a member'] as const)
}, { title: 'MemberAdded' })

export const MemberParams = Type.Object({ id: Id, userId: Id })

const ProductFields = {
  id: Id,
  name: Type.String(),
  description: Type.String(),
  state: Enum(['published', 'notPublished'] as const),
  subscriptionRequired: Type.Boolean(),
  approvalRequired: Type.Boolean(),
  subscriptionsLimit: Nullable(Type.Integer()),
  terms: Type.String(),
  rateLimitCalls: Nullable(Type.Integer()),
  rateLimitPeriod: Nullable(Type.Integer({ description: 'Seconds.' })),
  quotaCalls: Nullable(Type.Integer()),
  quotaPeriod: Nullable(Enum(QUOTA_PERIODS)),
  createdAt: Time,
  updatedAt: Time
}

export const Product = Type.Object({ ...ProductFields, apiCount: Type.Integer({ minimum: 0 }) }, { title: 'Product' })
export const ProductDetails = Type.Object({
  ...ProductFields,
  apis: Type.Array(Type.Object({ id: Id, name: Type.String(), path: Type.String() })),
  groups: Type.Array(GroupRef)
}, { title: 'ProductDetails' })

const SubscriptionState = Enum(SUBSCRIPTION_STATES)

export const Subscription = Type.Object({
  id: Id,
  displayName: Type.String(),
  state: SubscriptionState,
  stateReason: Nullable(Type.String()),
  productId: Id,
  productName: Type.String(),
  userId: Nullable(Id),
  userEmail: Nullable(Type.String()),
  organisationId: Nullable(Type.Integer({ minimum: 1, description: 'The organisation that holds it (its members see the keys), or null for a developer\'s own.' })),
  createdAt: Time,
  approvedAt: Nullable(Time),
  endedAt: Nullable(Time),
  expiresAt: Nullable(Time)
}, { title: 'Subscription' })

export const SubscriptionQuery = Type.Object({
  state: Type.Optional(SubscriptionState),
  product: Type.Optional(Id),
  user: Type.Optional(Text(300, 'Part of the owner\'s name or email address.')),
  organisation: Type.Optional(Id),
  page: Page
}, { additionalProperties: false })

export const NewSubscription = Type.Object({
  userId: Type.Optional(Id),
  organisationId: Type.Optional(Id),
  productId: Id,
  displayName: Text(DISPLAY_NAME_MAX * 4)
}, { additionalProperties: false, description: 'For a developer (userId) or for an organisation (organisationId): one of the two.' })

// Organisations
export const Organisation = Type.Object({
  id: Id,
  name: Type.String(),
  description: Type.String(),
  state: Enum(['active', 'blocked'] as const),
  memberCount: Type.Integer({ minimum: 0 }),
  createdAt: Time,
  updatedAt: Time
}, { title: 'Organisation' })

export const NewOrganisation = Type.Object({
  name: Text(ORGANISATION_NAME_MAX * 4),
  description: Type.Optional(Text(ORGANISATION_DESCRIPTION_MAX * 4)),
  ownerEmail: Type.Optional(Text(EMAIL_MAX_LENGTH * 2, 'An active account made its first owner.'))
}, { additionalProperties: false })

export const OrganisationUpdate = Type.Object({
  name: Text(ORGANISATION_NAME_MAX * 4),
  description: Type.Optional(Text(ORGANISATION_DESCRIPTION_MAX * 4))
}, { additionalProperties: false })

export const OrganisationQuery = Type.Object({ q: Type.Optional(Text(200, 'Part of the name.')), page: Page }, { additionalProperties: false })

export const OrganisationMember = Type.Object({
  userId: Id,
  email: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  role: Enum(['owner', 'member'] as const),
  joinedAt: Time
}, { title: 'OrganisationMember' })

export const NewOrganisationMember = Type.Object({
  userId: Id,
  role: Type.Optional(Enum(['owner', 'member'] as const, 'member unless given.'))
}, { additionalProperties: false })

export const OrganisationMemberParams = Type.Object({ id: Id, userId: Id })

export const StateChange = Type.Object({
  reason: Type.Optional(Text(REASON_MAX * 4, 'Why a request is rejected (required to reject): the developer reads it in the email.'))
}, { additionalProperties: false })

export const Regenerate = Type.Object({ key: Enum(KEY_SLOTS) }, { additionalProperties: false })
export const Regenerated = Type.Object({
  ...Subscription.properties,
  key: Type.Object({ slot: Enum(KEY_SLOTS), value: Type.String() })
}, { title: 'RegeneratedKey' })

// APIs
export const Api = Type.Object({
  id: Id,
  name: Type.String(),
  path: Type.String({ description: 'Its path on the gateway: calls go to GATEWAY_URL/<path>/…' }),
  serviceUrl: Type.String({ description: 'The backend the gateway forwards to.' }),
  description: Type.String(),
  hasDocument: Type.Boolean({ description: 'Whether an OpenAPI document is imported (GET …/openapi).' }),
  format: Nullable(Enum(['json', 'yaml'] as const, 'The document as it was imported: JSON or YAML.')),
  createdAt: Time,
  updatedAt: Time
}, { title: 'Api' })

export const NewApi = Type.Object({
  name: Text(API_NAME_MAX * 4),
  path: Text(API_PATH_MAX * 4, 'Lower-case letters, digits and hyphens, with / between parts, such as weather or maps/v2.'),
  serviceUrl: Text(SERVICE_URL_MAX * 2, 'An http:// or https:// URL.'),
  description: Type.Optional(Text(DESCRIPTION_MAX * 4))
}, { additionalProperties: false })

export const OpenApiText = Type.String({ description: 'The OpenAPI 3.0/3.1 or Swagger 2.0 document, as JSON or YAML.' })

// Products: the product form's fields.
export const NewProduct = Type.Object({
  name: Text(400),
  description: Type.Optional(Text(20_000)),
  state: Type.Optional(Enum(['published', 'notPublished'] as const, 'notPublished by default.')),
  subscriptionRequired: Type.Optional(Type.Boolean({ description: 'True by default.' })),
  approvalRequired: Type.Optional(Type.Boolean({ description: 'False by default.' })),
  subscriptionsLimit: Type.Optional(Nullable(Type.Integer({ description: 'Subscriptions per developer; null: no limit.' }))),
  terms: Type.Optional(Text(40_000)),
  rateLimitCalls: Type.Optional(Nullable(Type.Integer())),
  rateLimitPeriod: Type.Optional(Nullable(Type.Integer({ description: 'Seconds.' }))),
  quotaCalls: Type.Optional(Nullable(Type.Integer())),
  quotaPeriod: Type.Optional(Nullable(Enum(QUOTA_PERIODS))),
  ipAllow: Type.Optional(Type.Array(Text(100), { maxItems: 1000, description: 'IP addresses or CIDR ranges a key may be used from; empty: any.' }))
}, { additionalProperties: false })

export const ProductLinkParams = Type.Object({ id: Id, apiId: Id })
export const ProductGroupParams = Type.Object({ id: Id, groupId: Id })
export const DeleteProductQuery = Type.Object({
  cancelSubscriptions: Type.Optional(Type.Boolean({ description: 'Cancel its live subscriptions with it; without it a product with live subscriptions is kept (409).' }))
}, { additionalProperties: false })

// Usage
export const UsageQuery = Type.Object({
  from: Type.Optional(Text(20, 'First day, YYYY-MM-DD (UTC); 7 days before `to` by default.')),
  to: Type.Optional(Text(20, 'Last day, YYYY-MM-DD (UTC), included; today by default.')),
  api: Type.Optional(Id),
  product: Type.Optional(Id),
  user: Type.Optional(Text(300, 'Part of the developer\'s name or email address.'))
}, { additionalProperties: false })

const UsageFigures = {
  calls: Type.Integer({ minimum: 0 }),
  errors: Type.Integer({ minimum: 0, description: 'Answered 4xx or 5xx, by the backend or the gateway.' }),
  refused: Type.Integer({ minimum: 0, description: 'Refused by the gateway (key, limits, quota, address).' }),
  meanLatencyMs: Nullable(Type.Number({ description: 'Of the calls that reached a backend.' })),
  p50Ms: Nullable(Type.Number()),
  p95Ms: Nullable(Type.Number()),
  p99Ms: Nullable(Type.Number())
}

export const Usage = Type.Object({
  from: Type.String({ format: 'date' }),
  to: Type.String({ format: 'date' }),
  total: Type.Object(UsageFigures),
  days: Type.Array(Type.Object({ day: Type.String({ format: 'date' }), ...UsageFigures }))
}, { title: 'Usage' })
