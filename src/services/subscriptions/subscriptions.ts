import type { Knex } from 'knex'
import { activeAdministrators } from '../accounts/administrators'
import { selfAction, type Actor, type EventAction, type Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { Forbidden, Invalid, NotFound, Refused, throwIfInvalid, type FieldErrors } from '../kernel/errors'
import { nameProblem } from '../kernel/text-rules'
import { isPostgres } from '../../db/knex'
import { likePattern, pageOf, type Page } from '../../db/paging'
import { findAccount, type Account } from '../accounts/account-store'
import type { Outbox, Recipient } from '../mail/outbox'
import type { Products, Product, Viewer } from '../catalog/products'
import { LIVE_STATES, SUBSCRIPTION_STATES, type SubscriptionState } from './subscription-states'
import type { KeySlot, KeyStore, SubscriptionKeys } from './key-store'

export const DISPLAY_NAME_MAX = 100
export const REASON_MAX = 1000
export const SUBSCRIPTIONS_PAGE_SIZE = 25

export interface SubscriptionOwner { id: number, email: string, firstName: string, lastName: string, state: string }

export interface Subscription {
  id: number
  displayName: string
  state: SubscriptionState
  stateReason: string | null
  productId: number
  productName: string
  owner: SubscriptionOwner | null
  /** The organisation that holds it (every member sees its keys, owners manage it), or null. */
  organisation: { id: number, name: string, state: string } | null
  createdAt: string
  approvedAt: string | null
  endedAt: string | null
  expiresAt: string | null
}

export interface SubscriptionWithKeys extends Subscription { keys: SubscriptionKeys }

export interface SubscriptionFilter { state?: string, product?: number, developer?: string, organisation?: number }

/** What an administrator may do to a subscription: from which states, to which state. */
export const ADMIN_ACTIONS = {
  approve: { from: ['submitted'], to: 'active', audit: 'subscription.approved', done: 'approved' },
  reject: { from: ['submitted'], to: 'rejected', audit: 'subscription.rejected', done: 'rejected' },
  suspend: { from: ['active'], to: 'suspended', audit: 'subscription.suspended', done: 'suspended' },
  activate: { from: ['suspended'], to: 'active', audit: 'subscription.activated', done: 'activated' },
  cancel: { from: ['submitted', 'active', 'suspended'], to: 'cancelled', audit: 'subscription.cancelled', done: 'cancelled' }
} as const satisfies Record<string, { from: readonly SubscriptionState[], to: SubscriptionState, audit: EventAction, done: string }>
export type AdminAction = keyof typeof ADMIN_ACTIONS
export const ADMIN_ACTION_NAMES = Object.keys(ADMIN_ACTIONS) as AdminAction[]

const COLUMNS = ['subscriptions.id', 'subscriptions.display_name', 'subscriptions.state', 'subscriptions.state_reason', 'subscriptions.product_id', 'products.name as product_name',
  'subscriptions.created_at', 'subscriptions.approved_at', 'subscriptions.ended_at', 'subscriptions.expires_at', 'subscriptions.developer_id',
  'developers.email as owner_email', 'developers.first_name as owner_first_name', 'developers.last_name as owner_last_name', 'developers.state as owner_state',
  'subscriptions.organisation_id', 'organisations.name as organisation_name', 'organisations.state as organisation_state']

interface SubscriptionRow {
  id: number
  display_name: string
  state: SubscriptionState
  state_reason: string | null
  product_id: number
  product_name: string
  created_at: string
  approved_at: string | null
  ended_at: string | null
  expires_at: string | null
  developer_id: number | null
  owner_email: string | null
  owner_first_name: string | null
  owner_last_name: string | null
  owner_state: string | null
  organisation_id: number | null
  organisation_name: string | null
  organisation_state: string | null
}

function toSubscription (row: SubscriptionRow): Subscription {
  return {
    id: row.id,
    displayName: row.display_name,
    state: row.state,
    stateReason: row.state_reason,
    productId: row.product_id,
    productName: row.product_name,
    owner: row.developer_id === null
      ? null
      : { id: row.developer_id, email: row.owner_email ?? '', firstName: row.owner_first_name ?? '', lastName: row.owner_last_name ?? '', state: row.owner_state ?? '' },
    organisation: row.organisation_id === null ? null : { id: row.organisation_id, name: row.organisation_name ?? '', state: row.organisation_state ?? '' },
    createdAt: row.created_at,
    approvedAt: row.approved_at,
    endedAt: row.ended_at,
    expiresAt: row.expires_at
  }
}

function displayNameErrors (displayName: string): FieldErrors {
  const problem = nameProblem('subscription name', displayName, DISPLAY_NAME_MAX)
  return problem === null ? {} : { displayName: problem }
}

interface Deps {
  db: Knex
  clock: Clock
  events: Events
  outbox: Outbox
  products: Products
  keys: KeyStore
  publicUrl: string
}

export function createSubscriptions ({ db, clock, events, outbox, products, keys, publicUrl }: Deps) {
  const base = (q: Knex | Knex.Transaction): Knex.QueryBuilder => q('subscriptions')
    .join('products', 'products.id', 'subscriptions.product_id')
    .leftJoin('developers', 'developers.id', 'subscriptions.developer_id')
    .leftJoin('organisations', 'organisations.id', 'subscriptions.organisation_id')

  async function findSubscription (id: number, q: Knex | Knex.Transaction = db): Promise<Subscription> {
    const row: SubscriptionRow | undefined = await base(q).where('subscriptions.id', id).first(COLUMNS)
    if (row === undefined) throw new NotFound('There is no subscription with this id.', 'subscription')
    return toSubscription(row)
  }

  /** The account's role in the subscription's organisation, or null (none, or not a member). */
  async function organisationRole (q: Knex | Knex.Transaction, organisationId: number, accountId: number): Promise<string | null> {
    const row: { role: string } | undefined = await q('organisation_members').where({ organisation_id: organisationId, developer_id: accountId }).first('role')
    return row?.role ?? null
  }

  /**
   * A subscription this account may see: its own (no organisation), or one of an organisation it
   * is a member of, as of this very request. Anyone else's is simply not found.
   */
  async function findOwn (viewerId: number, id: number, q: Knex | Knex.Transaction = db): Promise<Subscription & { canManage: boolean }> {
    const subscription = await findSubscription(id, q)
    if (subscription.organisation === null) {
      if (subscription.owner?.id !== viewerId) throw new NotFound('There is no subscription with this id.', 'subscription')
      return { ...subscription, canManage: true }
    }
    const role = await organisationRole(q, subscription.organisation.id, viewerId)
    if (role === null) throw new NotFound('There is no subscription with this id.', 'subscription')
    return { ...subscription, canManage: role === 'owner' }
  }

  /** A subscription this account may rename, renew and cancel: its own, or its organisation's when it is an owner. */
  async function findManaged (viewerId: number, id: number, q: Knex | Knex.Transaction = db): Promise<Subscription> {
    const subscription = await findOwn(viewerId, id, q)
    if (!subscription.canManage) throw new Forbidden(`Only the owners of ${subscription.organisation?.name ?? 'the organisation'} can change this subscription.`)
    return subscription
  }

  /** Who hears about a subscription: its owner, or the active owners of its organisation. */
  async function recipientsOf (trx: Knex | Knex.Transaction, subscription: Subscription): Promise<Recipient[]> {
    if (subscription.organisation === null) return subscription.owner === null ? [] : [subscription.owner]
    return await trx('organisation_members').join('developers', 'developers.id', 'organisation_members.developer_id')
      .where({ 'organisation_members.organisation_id': subscription.organisation.id, 'organisation_members.role': 'owner', 'developers.state': 'active' })
      .select('developers.id', 'developers.email', 'developers.first_name as firstName', 'developers.last_name as lastName')
  }

  const audit = (trx: Knex.Transaction, actor: Actor, action: EventAction, subscription: Subscription, details?: Record<string, unknown>) =>
    events.record(trx, {
      actor,
      action,
      target: { type: 'subscription', id: subscription.id, label: `${subscription.displayName} (${subscription.productName}, ${subscription.organisation?.name ?? subscription.owner?.email ?? 'deleted account'})` },
      details
    })

  const mailValues = (s: Subscription): Record<string, string> => ({ ProdName: s.productName, SubscriptionName: s.displayName })

  /** Tells the administrators a developer asks for a product that needs approval. */
  async function mailAdministrators (trx: Knex.Transaction, subscription: Subscription, owner: Recipient): Promise<void> {
    for (const admin of await activeAdministrators(trx)) {
      await outbox.queueEmail(trx, 'subscription-request', admin, {
        ...mailValues(subscription),
        DevFirstName: owner.firstName,
        DevLastName: owner.lastName,
        DevEmail: owner.email,
        AdminUrl: `${publicUrl}/admin/subscriptions/${subscription.id}`
      })
    }
  }

  /**
   * The one way a subscription comes to be: the owner's live subscriptions to the product are
   * counted under a lock on the owner, so two requests at once cannot pass the limit together.
   */
  async function insertSubscription (trx: Knex.Transaction, owner: Account | null, product: Product, displayName: string, state: SubscriptionState, organisationId: number | null = null): Promise<Subscription> {
    if (owner === null && organisationId === null) throw new Error('a subscription needs an owner')
    if (!product.subscriptionRequired) throw new Refused(`${product.name} needs no subscription: its APIs can be called without a key.`)
    // subscriptionsLimit counts per owner: the account's own subscriptions, or the organisation's.
    if (isPostgres(trx)) {
      if (organisationId === null) await trx('developers').where('id', owner?.id ?? 0).forUpdate().first('id')
      else await trx('organisations').where('id', organisationId).forUpdate().first('id')
    }
    if (product.subscriptionsLimit !== null) {
      const owned = organisationId === null ? { developer_id: owner?.id ?? 0, organisation_id: null } : { organisation_id: organisationId }
      const row = await trx('subscriptions').where(owned).where('product_id', product.id).whereIn('state', LIVE_STATES).count({ n: '*' }).first()
      const live = Number(row?.n ?? 0)
      if (live >= product.subscriptionsLimit) {
        throw new Refused(`${product.name} allows ${product.subscriptionsLimit} subscription${product.subscriptionsLimit === 1 ? '' : 's'} per ${organisationId === null ? 'developer' : 'organisation'}, and ${live === 1 ? 'there is one already' : `there are ${live} already`}. Cancel one first.`)
      }
    }
    const now = isoNow(clock)
    const [row] = await trx('subscriptions').insert({
      developer_id: owner?.id ?? null,
      organisation_id: organisationId,
      product_id: product.id,
      display_name: displayName.trim(),
      state,
      created_at: now,
      approved_at: state === 'active' ? now : null,
      updated_at: now
    }).returning('id')
    const id: number = typeof row === 'object' ? row.id : row
    await keys.issueBoth(trx, id, now)
    return await findSubscription(id, trx)
  }

  /** A developer subscribes: active at once, or submitted when the product needs approval. */
  async function subscribe (viewer: Account & Viewer, productId: number, input: { displayName: string, acceptTerms: boolean, owner?: string }, ip: string | null): Promise<Subscription> {
    const errors = displayNameErrors(input.displayName)
    const product = await products.findVisible(productId, viewer)
    if (product.terms !== '' && !input.acceptTerms) errors.acceptTerms = 'Tick the box to accept the terms of use.'
    // owner: "me" (the default), or "org:<id>" for an active organisation the developer owns.
    const chosen = /^org:([1-9]\d{0,9})$/.exec(input.owner ?? 'me')
    if (input.owner !== undefined && input.owner !== 'me' && chosen === null) errors.owner = 'Choose yourself or one of the organisations you own.'
    const organisationId = chosen === null ? null : Number(chosen[1])
    throwIfInvalid(errors)
    return await db.transaction(async (trx) => {
      if (organisationId !== null) {
        const owned = await trx('organisation_members').join('organisations', 'organisations.id', 'organisation_members.organisation_id')
          .where({ 'organisation_members.organisation_id': organisationId, 'organisation_members.developer_id': viewer.id, 'organisation_members.role': 'owner', 'organisations.state': 'active' }).first('organisations.id')
        if (owned === undefined) throw new Invalid({ owner: 'Choose yourself or one of the organisations you own.' })
      }
      const visible = await products.findVisible(productId, viewer, trx)
      const subscription = await insertSubscription(trx, viewer, visible, input.displayName, visible.approvalRequired ? 'submitted' : 'active', organisationId)
      if (subscription.state === 'submitted') await mailAdministrators(trx, subscription, viewer)
      await events.record(trx, { ...selfAction(viewer, ip), action: 'subscription.created', details: { subscriptionId: subscription.id, product: visible.name, state: subscription.state } })
      return subscription
    })
  }

  /** An administrator subscribes a developer: active at once (the administrator approves it by doing so); the owner is mailed. */
  async function subscribeOnBehalf (developerId: number, input: { productId: number, displayName: string }, actor: Actor): Promise<Subscription> {
    const errors = displayNameErrors(input.displayName)
    throwIfInvalid(errors)
    return await db.transaction(async (trx) => {
      const owner = await findAccount(trx, developerId)
      if (owner.state === 'pending') throw new Refused(`${owner.email} has not accepted their invitation yet: subscribe them once they have.`)
      const product = await products.findProduct(input.productId, trx).catch((err: unknown) => {
        throw err instanceof NotFound && err.missing === 'product' ? new Invalid({ productId: 'Choose one of the products in the list.' }) : err
      })
      const subscription = await insertSubscription(trx, owner, product, input.displayName, 'active')
      await outbox.queueEmail(trx, 'subscription-approved', owner, mailValues(subscription))
      await audit(trx, actor, 'subscription.created', subscription, { onBehalf: true })
      return subscription
    })
  }

  /** An administrator subscribes an organisation: active at once; its owners are mailed. */
  async function subscribeOrganisation (organisationId: number, input: { productId: number, displayName: string }, actor: Actor): Promise<Subscription> {
    throwIfInvalid(displayNameErrors(input.displayName))
    return await db.transaction(async (trx) => {
      const organisation = await trx('organisations').where('id', organisationId).first('id', 'state')
      if (organisation === undefined) throw new NotFound('There is no organisation with this id.')
      if (organisation.state !== 'active') throw new Refused('This organisation is blocked: activate it first.')
      const product = await products.findProduct(input.productId, trx).catch((err: unknown) => {
        throw err instanceof NotFound && err.missing === 'product' ? new Invalid({ productId: 'Choose one of the products in the list.' }) : err
      })
      const subscription = await insertSubscription(trx, null, product, input.displayName, 'active', organisationId)
      for (const to of await recipientsOf(trx, subscription)) await outbox.queueEmail(trx, 'subscription-approved', to, mailValues(subscription))
      await audit(trx, actor, 'subscription.created', subscription, { onBehalf: true, organisationId })
      return subscription
    })
  }

  /** A state change in one conditional UPDATE, so two administrators at once cannot both act. */
  async function changeState (id: number, action: AdminAction, actor: Actor, reason = ''): Promise<Subscription> {
    const rule = ADMIN_ACTIONS[action]
    if (action === 'reject') {
      const trimmed = reason.trim()
      if (trimmed === '') throw new Invalid({ reason: 'Say why the request is declined: the developer reads it in the email.' })
      if ([...trimmed].length > REASON_MAX) throw new Invalid({ reason: `The reason can be at most ${REASON_MAX} characters.` })
    }
    return await db.transaction(async (trx) => {
      const before = await findSubscription(id, trx)
      const now = isoNow(clock)
      const changes: Record<string, string | null> = { state: rule.to, updated_at: now }
      if (rule.to === 'active' && before.approvedAt === null) changes.approved_at = now
      if (rule.to === 'rejected' || rule.to === 'cancelled') changes.ended_at = now
      if (action === 'reject') changes.state_reason = reason.trim()
      const changed = await trx('subscriptions').where('id', id).whereIn('state', rule.from).update(changes)
      if (changed === 0) throw new Refused(`This subscription is ${before.state}, so it cannot be ${rule.done}.`)
      const after = await findSubscription(id, trx)
      for (const to of await recipientsOf(trx, after)) {
        if (rule.to === 'active') await outbox.queueEmail(trx, 'subscription-approved', to, mailValues(after))
        if (action === 'reject') await outbox.queueEmail(trx, 'subscription-declined', to, { ...mailValues(after), Reason: reason.trim() })
      }
      await audit(trx, actor, rule.audit, after, { from: before.state, ...(action === 'reject' ? { reason: reason.trim() } : {}) })
      return after
    })
  }

  /** The owner (or, with ownerId null, an administrator) renews one key; the old one stops at once. */
  async function regenerateKey (ownerId: number | null, id: number, slot: KeySlot, actor: Actor): Promise<Subscription & { key: string }> {
    return await db.transaction(async (trx) => {
      const subscription = ownerId === null ? await findSubscription(id, trx) : await findManaged(ownerId, id, trx)
      if (!LIVE_STATES.includes(subscription.state)) throw new Refused(`This subscription is ${subscription.state}: its keys can no longer be renewed.`)
      const key = await keys.issueKey(trx, id, slot, isoNow(clock))
      await trx('subscriptions').where('id', id).update({ updated_at: isoNow(clock) })
      await audit(trx, actor, 'subscription.key-regenerated', subscription, { key: slot })
      // Renewed by an administrator (page or API): the owner hears of it, their old key having stopped.
      if (ownerId === null) for (const to of await recipientsOf(trx, subscription)) await outbox.queueEmail(trx, 'key-regenerated', to, { ...mailValues(subscription), KeyName: slot })
      return { ...subscription, key }
    })
  }

  /** An administrator reads a live subscription's keys (support); each showing is audited. */
  async function showKeys (id: number, actor: Actor): Promise<SubscriptionWithKeys> {
    return await db.transaction(async (trx) => {
      const subscription = await findSubscription(id, trx)
      if (!LIVE_STATES.includes(subscription.state)) throw new Refused(`This subscription is ${subscription.state}: it has no keys that work.`)
      const revealed = await keys.revealKeys(trx, [id])
      await audit(trx, actor, 'subscription.keys-viewed', subscription)
      return { ...subscription, keys: revealed.get(id) ?? { primary: null, secondary: null } }
    })
  }

  async function rename (ownerId: number, id: number, displayName: string, actor: Actor): Promise<Subscription> {
    const errors = displayNameErrors(displayName)
    throwIfInvalid(errors)
    return await db.transaction(async (trx) => {
      const before = await findManaged(ownerId, id, trx)
      await trx('subscriptions').where('id', id).update({ display_name: displayName.trim(), updated_at: isoNow(clock) })
      const after = { ...before, displayName: displayName.trim() }
      await audit(trx, actor, 'subscription.renamed', after, { from: before.displayName })
      return after
    })
  }

  /** The owner ends their own subscription (after a confirmation page). */
  async function cancelOwn (ownerId: number, id: number, actor: Actor): Promise<Subscription> {
    await findManaged(ownerId, id)
    return await changeState(id, 'cancel', actor)
  }

  /** The subscriptions an account sees: its own, and its organisations' (owners may manage those). */
  async function listVisible (viewerId: number): Promise<Array<Subscription & { canManage: boolean }>> {
    const roles = new Map<number, string>((await db('organisation_members').where('developer_id', viewerId).select('organisation_id', 'role')).map((r: { organisation_id: number, role: string }) => [r.organisation_id, r.role]))
    const rows: SubscriptionRow[] = await base(db)
      .where((w) => {
        void w.where((own) => { void own.where('subscriptions.developer_id', viewerId).whereNull('subscriptions.organisation_id') })
        if (roles.size > 0) void w.orWhereIn('subscriptions.organisation_id', [...roles.keys()])
      })
      .select(COLUMNS).orderBy('subscriptions.created_at', 'desc').orderBy('subscriptions.id', 'desc')
    return rows.map((row) => ({ ...toSubscription(row), canManage: row.organisation_id === null || roles.get(row.organisation_id) === 'owner' }))
  }

  /** The same, with the live ones' keys (the Subscriptions page). */
  async function listOwn (viewerId: number): Promise<Array<SubscriptionWithKeys & { canManage: boolean }>> {
    const visible = await listVisible(viewerId)
    const revealed = await keys.revealKeys(db, visible.filter((s) => LIVE_STATES.includes(s.state)).map((s) => s.id))
    return visible.map((s) => ({ ...s, keys: revealed.get(s.id) ?? { primary: null, secondary: null } }))
  }

  /** An organisation's subscriptions, for its page (members) and the publisher's. */
  async function listForOrganisation (organisationId: number): Promise<Subscription[]> {
    const rows: SubscriptionRow[] = await base(db).where('subscriptions.organisation_id', organisationId).select(COLUMNS).orderBy('subscriptions.created_at', 'desc').orderBy('subscriptions.id', 'desc')
    return rows.map(toSubscription)
  }

  async function listForDeveloper (developerId: number): Promise<Subscription[]> {
    const rows: SubscriptionRow[] = await base(db).where('subscriptions.developer_id', developerId).select(COLUMNS).orderBy('subscriptions.created_at', 'desc').orderBy('subscriptions.id', 'desc')
    return rows.map(toSubscription)
  }

  /**
   * The owner's active subscriptions whose product holds this API, with their primary key: what the
   * reference's samples and its "Try it" use.
   */
  async function callingSubscriptions (ownerId: number, apiId: number): Promise<Array<Subscription & { primaryKey: string }>> {
    const rows: SubscriptionRow[] = await base(db)
      .where((w) => {
        void w.where((own) => { void own.where('subscriptions.developer_id', ownerId).whereNull('subscriptions.organisation_id') })
          .orWhereIn('subscriptions.organisation_id', db('organisation_members').where('developer_id', ownerId).select('organisation_id'))
      })
      .where('subscriptions.state', 'active')
      .whereIn('subscriptions.product_id', db('product_apis').where('api_id', apiId).select('product_id'))
      .select(COLUMNS).orderBy('subscriptions.created_at').orderBy('subscriptions.id')
    const revealed = await keys.revealKeys(db, rows.map((r) => r.id))
    return rows.flatMap((row) => {
      const primary = revealed.get(row.id)?.primary ?? null
      return primary === null ? [] : [{ ...toSubscription(row), primaryKey: primary }]
    })
  }

  async function list (filter: SubscriptionFilter, page: number | undefined): Promise<Page<Subscription>> {
    const query = base(db)
    if (filter.state !== undefined && (SUBSCRIPTION_STATES as readonly string[]).includes(filter.state)) void query.where('subscriptions.state', filter.state)
    if (filter.product !== undefined) void query.where('subscriptions.product_id', filter.product)
    if (filter.organisation !== undefined) void query.where('subscriptions.organisation_id', filter.organisation)
    const developer = filter.developer?.trim().toLowerCase() ?? ''
    if (developer !== '') {
      void query.where((w) => {
        void w.whereRaw('developers.email_normalized like ? escape ?', [likePattern(developer), '\\']).orWhereRaw('developers.name_normalized like ? escape ?', [likePattern(developer), '\\'])
      })
    }
    return await pageOf(query, page, SUBSCRIPTIONS_PAGE_SIZE, async (q) => (await q.select(COLUMNS).orderBy('subscriptions.created_at', 'desc').orderBy('subscriptions.id', 'desc')).map(toSubscription))
  }

  /** Requests waiting for an administrator. */
  async function countRequests (): Promise<number> {
    const row = await db('subscriptions').where('state', 'submitted').count({ n: '*' }).first()
    return Number(row?.n ?? 0)
  }

  return { countRequests, showKeys, findSubscription, findOwn, findManaged, listVisible, subscribeOrganisation, listForOrganisation, recipientsOf, subscribe, subscribeOnBehalf, changeState, regenerateKey, rename, cancelOwn, listOwn, listForDeveloper, callingSubscriptions, list }
}

export type Subscriptions = ReturnType<typeof createSubscriptions>
