import type { Knex } from 'knex'
import type { Actor, EventAction, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { Conflict, Invalid, NotFound, Refused, throwIfInvalid, type FieldErrors } from '../kernel/errors'
import { nameProblem } from '../kernel/text-rules'
import { isUniqueViolation } from '../../db/knex'
import { API_COLUMNS, toApi, type Api } from './apis'
import { ipAllowProblem } from '../gateway/policies'
import { LIVE_STATES } from '../subscriptions/subscription-states'

export const PRODUCT_NAME_MAX = 200
export const PRODUCT_DESCRIPTION_MAX = 5000
export const TERMS_MAX = 20_000
export const QUOTA_PERIODS = ['day', 'week', 'month'] as const
export type QuotaPeriod = typeof QUOTA_PERIODS[number]
export type ProductState = 'published' | 'notPublished'
const CALLS_MAX = 1_000_000_000
const RATE_PERIOD_MAX = 31 * 24 * 3600
const LIMIT_MAX = 1_000_000

export interface Product {
  id: number
  name: string
  description: string
  state: ProductState
  subscriptionRequired: boolean
  approvalRequired: boolean
  subscriptionsLimit: number | null
  terms: string
  rateLimitCalls: number | null
  rateLimitPeriod: number | null
  quotaCalls: number | null
  quotaPeriod: QuotaPeriod | null
  /** Client addresses and CIDR ranges allowed to use the product's keys, one a line; '' for any. */
  ipAllow: string
  createdAt: string
  updatedAt: string
}

/** The form's fields, as typed: numbers are text until checked. */
export interface ProductInput {
  name: string
  description: string
  state: string
  subscriptionRequired: boolean
  approvalRequired: boolean
  subscriptionsLimit: string
  terms: string
  rateLimitCalls: string
  rateLimitPeriod: string
  quotaCalls: string
  quotaPeriod: string
  /** Blank (or absent): any client address. */
  ipAllow?: string
}

export interface ProductGroup { id: number, name: string, systemKey: string | null }

export interface ProductDetails extends Product {
  apis: Api[]
  groups: ProductGroup[]
}

interface ProductRow {
  id: number
  name: string
  description: string
  state: ProductState
  subscription_required: boolean | number
  approval_required: boolean | number
  subscriptions_limit: number | null
  terms: string
  rate_limit_calls: number | null
  rate_limit_period: number | null
  quota_calls: number | null
  quota_period: QuotaPeriod | null
  ip_allow: string
  created_at: string
  updated_at: string
}

export const PRODUCT_COLUMNS = ['products.id', 'products.name', 'products.description', 'products.state', 'products.subscription_required', 'products.approval_required',
  'products.subscriptions_limit', 'products.terms', 'products.rate_limit_calls', 'products.rate_limit_period', 'products.quota_calls', 'products.quota_period',
  'products.ip_allow', 'products.created_at', 'products.updated_at']

export function toProduct (row: ProductRow): Product {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    state: row.state,
    subscriptionRequired: Boolean(row.subscription_required),
    approvalRequired: Boolean(row.approval_required),
    subscriptionsLimit: row.subscriptions_limit,
    terms: row.terms,
    rateLimitCalls: row.rate_limit_calls,
    rateLimitPeriod: row.rate_limit_period,
    quotaCalls: row.quota_calls,
    quotaPeriod: row.quota_period,
    ipAllow: row.ip_allow,
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }
}

/** The form's text of a product, for its edit page. */
export function productInput (product: Product): ProductInput {
  const text = (n: number | null): string => n === null ? '' : String(n)
  return {
    name: product.name,
    description: product.description,
    state: product.state,
    subscriptionRequired: product.subscriptionRequired,
    approvalRequired: product.approvalRequired,
    subscriptionsLimit: text(product.subscriptionsLimit),
    terms: product.terms,
    rateLimitCalls: text(product.rateLimitCalls),
    rateLimitPeriod: text(product.rateLimitPeriod),
    quotaCalls: text(product.quotaCalls),
    quotaPeriod: product.quotaPeriod ?? '',
    ipAllow: product.ipAllow
  }
}

/** A whole number in range, blank for none; or the message for the field. */
function count (raw: string, max: number, what: string): number | null | string {
  const value = raw.trim()
  if (value === '') return null
  if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || Number(value) > max) return `Enter ${what} as a whole number from 1 to ${max.toLocaleString('en-GB')}, or leave it blank.`
  return Number(value)
}

type ProductValues = Omit<Product, 'id' | 'createdAt' | 'updatedAt'>

/** The rules of a product's fields: one home for the pages and the JSON API. */
export function checkProduct (input: ProductInput): ProductValues {
  const errors: FieldErrors = {}
  const name = nameProblem('product name', input.name, PRODUCT_NAME_MAX)
  if (name !== null) errors.name = name
  if ([...input.description].length > PRODUCT_DESCRIPTION_MAX) errors.description = `The description can be at most ${PRODUCT_DESCRIPTION_MAX} characters.`
  if ([...input.terms].length > TERMS_MAX) errors.terms = `The terms of use can be at most ${TERMS_MAX} characters.`
  if (input.state !== 'published' && input.state !== 'notPublished') errors.state = 'Choose Published or Not published.'
  if (input.approvalRequired && !input.subscriptionRequired) errors.approvalRequired = 'Approval needs subscriptions: tick "Subscription required" too, or untick approval.'
  const numbers: Record<string, number | null> = {}
  const fields: Array<[keyof ProductInput & string, number, string]> = [
    ['subscriptionsLimit', LIMIT_MAX, 'the most subscriptions per developer'],
    ['rateLimitCalls', CALLS_MAX, 'the number of calls'],
    ['rateLimitPeriod', RATE_PERIOD_MAX, 'the period in seconds'],
    ['quotaCalls', CALLS_MAX, 'the number of calls']
  ]
  for (const [field, max, what] of fields) {
    const value = count(String(input[field]), max, what)
    if (typeof value === 'string') errors[field] = value
    else numbers[field] = value
  }
  if (errors.rateLimitCalls === undefined && errors.rateLimitPeriod === undefined && (numbers.rateLimitCalls === null) !== (numbers.rateLimitPeriod === null)) {
    errors[numbers.rateLimitCalls === null ? 'rateLimitCalls' : 'rateLimitPeriod'] = 'A rate limit needs both the number of calls and the period, or neither.'
  }
  const quotaPeriod = input.quotaPeriod.trim()
  if (quotaPeriod !== '' && !(QUOTA_PERIODS as readonly string[]).includes(quotaPeriod)) errors.quotaPeriod = 'Choose a day, a week or a month.'
  else if (errors.quotaCalls === undefined && (numbers.quotaCalls === null) !== (quotaPeriod === '')) {
    errors[numbers.quotaCalls === null ? 'quotaCalls' : 'quotaPeriod'] = 'A quota needs both the number of calls and the period, or neither.'
  }
  const ipAllow = (input.ipAllow ?? '').split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '').join('\n')
  const ipProblem = ipAllowProblem(ipAllow)
  if (ipProblem !== null) errors.ipAllow = ipProblem
  throwIfInvalid(errors)
  return {
    ipAllow,
    name: input.name.trim(),
    description: input.description.trim(),
    state: input.state as ProductState,
    subscriptionRequired: input.subscriptionRequired,
    approvalRequired: input.approvalRequired,
    subscriptionsLimit: numbers.subscriptionsLimit,
    terms: input.terms.trim(),
    rateLimitCalls: numbers.rateLimitCalls,
    rateLimitPeriod: numbers.rateLimitPeriod,
    quotaCalls: numbers.quotaCalls,
    quotaPeriod: quotaPeriod === '' ? null : quotaPeriod as QuotaPeriod
  }
}

function productColumns (values: ProductValues): Record<string, unknown> {
  return {
    name: values.name,
    name_normalized: values.name.toLowerCase(),
    description: values.description,
    state: values.state,
    subscription_required: values.subscriptionRequired,
    approval_required: values.approvalRequired,
    subscriptions_limit: values.subscriptionsLimit,
    terms: values.terms,
    rate_limit_calls: values.rateLimitCalls,
    rate_limit_period: values.rateLimitPeriod,
    quota_calls: values.quotaCalls,
    quota_period: values.quotaPeriod,
    ip_allow: values.ipAllow
  }
}

const NAME_TAKEN = 'A product with this name already exists.'

/** Who is looking at the developer portal: an account (with its groups), or a signed-out visitor. */
export interface Viewer { id: number, isAdmin: boolean }

/**
 * Published products this viewer may see: an administrator sees every published product; an account
 * those shown to one of its groups; a signed-out visitor those shown to Guests.
 */
export function visibleProducts (db: Knex | Knex.Transaction, viewer: Viewer | null): Knex.QueryBuilder {
  const query = db('products').where('products.state', 'published')
  if (viewer?.isAdmin === true) return query
  return query.whereExists((q) => {
    void q.select(db.raw('1')).from('product_groups').whereRaw('product_groups.product_id = products.id')
    if (viewer === null) void q.whereIn('product_groups.group_id', db('groups').where('system_key', 'guests').select('id'))
    else void q.whereIn('product_groups.group_id', db('developer_groups').where('developer_id', viewer.id).select('group_id'))
  })
}

export function createProducts ({ db, clock, events }: { db: Knex, clock: Clock, events: Events }) {
  const audit = (trx: Knex.Transaction, actor: Actor, action: EventAction, product: { id: number, name: string }, details?: Record<string, unknown>) =>
    events.record(trx, { actor, action, target: { type: 'product', id: product.id, label: product.name }, details })

  async function findProduct (id: number, q: Knex | Knex.Transaction = db): Promise<Product> {
    const row: ProductRow | undefined = await q('products').where('id', id).first(PRODUCT_COLUMNS)
    if (row === undefined) throw new NotFound('There is no product with this id.', 'product')
    return toProduct(row)
  }

  async function apisOf (productIds: number[], q: Knex | Knex.Transaction = db): Promise<Map<number, Api[]>> {
    const byProduct = new Map<number, Api[]>(productIds.map((id) => [id, []]))
    if (productIds.length === 0) return byProduct
    const rows = await q('product_apis').join('apis', 'apis.id', 'product_apis.api_id').whereIn('product_apis.product_id', productIds)
      .select([...API_COLUMNS, 'product_apis.product_id as product_id']).orderBy('apis.name_normalized')
    for (const row of rows) byProduct.get(row.product_id)?.push(toApi(row))
    return byProduct
  }

  async function findDetails (id: number): Promise<ProductDetails> {
    const product = await findProduct(id)
    const groups: ProductGroup[] = (await db('product_groups').join('groups', 'groups.id', 'product_groups.group_id').where('product_groups.product_id', id)
      .select('groups.id', 'groups.name', 'groups.system_key').orderBy('groups.name_normalized')).map((g) => ({ id: g.id, name: g.name, systemKey: g.system_key }))
    return { ...product, apis: (await apisOf([id])).get(id) ?? [], groups }
  }

  async function listProducts (): Promise<Array<Product & { apiCount: number, liveSubscriptions: number }>> {
    const rows = await db('products').select(PRODUCT_COLUMNS)
      .select(db('product_apis').whereRaw('product_apis.product_id = products.id').count('*').as('api_count'))
      .select(db('subscriptions').whereRaw('subscriptions.product_id = products.id').whereIn('state', LIVE_STATES).count('*').as('live_count'))
      .orderBy('products.name_normalized')
    return rows.map((row) => ({ ...toProduct(row), apiCount: Number(row.api_count), liveSubscriptions: Number(row.live_count) }))
  }

  async function createProduct (input: ProductInput, actor: Actor): Promise<Product> {
    const values = checkProduct(input)
    return await db.transaction(async (trx) => {
      if (await trx('products').where('name_normalized', values.name.toLowerCase()).first('id') !== undefined) throw new Conflict('name', NAME_TAKEN)
      const now = isoNow(clock)
      const [row] = await trx('products').insert({ ...productColumns(values), created_at: now, updated_at: now }).returning('id')
        .catch((err: unknown) => { throw isUniqueViolation(err) ? new Conflict('name', NAME_TAKEN) : err })
      const product = await findProduct(typeof row === 'object' ? row.id : row, trx)
      await audit(trx, actor, 'product.created', product, { state: product.state })
      return product
    })
  }

  async function updateProduct (id: number, input: ProductInput, actor: Actor): Promise<Product> {
    const values = checkProduct(input)
    return await db.transaction(async (trx) => {
      const before = await findProduct(id, trx)
      if (await trx('products').where('name_normalized', values.name.toLowerCase()).whereNot('id', id).first('id') !== undefined) throw new Conflict('name', NAME_TAKEN)
      await trx('products').where('id', id).update({ ...productColumns(values), updated_at: isoNow(clock) })
        .catch((err: unknown) => { throw isUniqueViolation(err) ? new Conflict('name', NAME_TAKEN) : err })
      const product = await findProduct(id, trx)
      const changed = (Object.keys(values) as Array<keyof ProductValues>).filter((k) => before[k] !== product[k])
      await audit(trx, actor, 'product.edited', product, { changed })
      return product
    })
  }

  async function setState (id: number, state: ProductState, actor: Actor): Promise<Product> {
    return await db.transaction(async (trx) => {
      const product = await findProduct(id, trx)
      await trx('products').where('id', id).update({ state, updated_at: isoNow(clock) })
      await audit(trx, actor, state === 'published' ? 'product.published' : 'product.unpublished', product)
      return { ...product, state }
    })
  }

  /** Subscriptions that still count: submitted, active or suspended. */
  async function countLiveSubscriptions (id: number, q: Knex | Knex.Transaction = db): Promise<number> {
    const row = await q('subscriptions').where('product_id', id).whereIn('state', LIVE_STATES).count({ n: '*' }).first()
    return Number(row?.n ?? 0)
  }

  /**
   * Delete a product. While it has live subscriptions this is refused, unless the administrator
   * confirmed that they are cancelled with it; they go with the product.
   */
  async function deleteProduct (id: number, cancelSubscriptions: boolean, actor: Actor): Promise<{ product: Product, cancelled: number }> {
    return await db.transaction(async (trx) => {
      const product = await findProduct(id, trx)
      const live = await countLiveSubscriptions(id, trx)
      if (live > 0 && !cancelSubscriptions) {
        throw new Refused(`${product.name} has ${live} live subscription${live === 1 ? '' : 's'}. Tick the box to cancel ${live === 1 ? 'it' : 'them'} with the product, or keep the product.`)
      }
      await trx('products').where('id', id).del()
      await audit(trx, actor, 'product.deleted', product, { cancelledSubscriptions: live })
      return { product, cancelled: live }
    })
  }

  async function addApi (id: number, apiId: number, actor: Actor): Promise<{ product: Product, api: Api }> {
    return await db.transaction(async (trx) => {
      const product = await findProduct(id, trx)
      const row = await trx('apis').where('id', apiId).first(API_COLUMNS)
      if (row === undefined) throw new Invalid({ apiId: 'Choose one of the APIs in the list.' })
      const api = toApi(row)
      const inserted = await trx('product_apis').insert({ product_id: id, api_id: apiId }).onConflict(['product_id', 'api_id']).ignore().returning('api_id')
      if (inserted.length === 0) throw new Conflict('apiId', `${api.name} is already in ${product.name}.`)
      await audit(trx, actor, 'product.api-added', product, { apiId, api: api.name })
      return { product, api }
    })
  }

  async function removeApi (id: number, apiId: number, actor: Actor): Promise<{ product: Product, api: Api }> {
    return await db.transaction(async (trx) => {
      const product = await findProduct(id, trx)
      const row = await trx('product_apis').join('apis', 'apis.id', 'product_apis.api_id').where({ 'product_apis.product_id': id, 'product_apis.api_id': apiId }).first(API_COLUMNS)
      if (row === undefined) throw new NotFound('This API is not in this product.')
      await trx('product_apis').where({ product_id: id, api_id: apiId }).del()
      const api = toApi(row)
      await audit(trx, actor, 'product.api-removed', product, { apiId, api: api.name })
      return { product, api }
    })
  }

  async function addGroup (id: number, groupId: number, actor: Actor): Promise<{ product: Product, group: ProductGroup }> {
    return await db.transaction(async (trx) => {
      const product = await findProduct(id, trx)
      const row = await trx('groups').where('id', groupId).first('id', 'name', 'system_key')
      if (row === undefined) throw new Invalid({ groupId: 'Choose one of the groups in the list.' })
      const group = { id: row.id, name: row.name, systemKey: row.system_key }
      if (group.systemKey === 'administrators') throw new Conflict('groupId', 'Administrators always see every product.')
      const inserted = await trx('product_groups').insert({ product_id: id, group_id: groupId }).onConflict(['product_id', 'group_id']).ignore().returning('group_id')
      if (inserted.length === 0) throw new Conflict('groupId', `${group.name} already sees ${product.name}.`)
      await audit(trx, actor, 'product.group-added', product, { groupId, group: group.name })
      return { product, group }
    })
  }

  async function removeGroup (id: number, groupId: number, actor: Actor): Promise<{ product: Product, group: ProductGroup }> {
    return await db.transaction(async (trx) => {
      const product = await findProduct(id, trx)
      const row = await trx('product_groups').join('groups', 'groups.id', 'product_groups.group_id').where({ 'product_groups.product_id': id, 'product_groups.group_id': groupId })
        .first('groups.id', 'groups.name', 'groups.system_key')
      if (row === undefined) throw new NotFound('This group does not see this product.')
      await trx('product_groups').where({ product_id: id, group_id: groupId }).del()
      const group = { id: row.id, name: row.name, systemKey: row.system_key }
      await audit(trx, actor, 'product.group-removed', product, { groupId, group: group.name })
      return { product, group }
    })
  }

  /** The developer portal: products this viewer may see, each with its APIs. */
  async function listVisible (viewer: Viewer | null): Promise<Array<Product & { apis: Api[] }>> {
    const rows: ProductRow[] = await visibleProducts(db, viewer).select(PRODUCT_COLUMNS).orderBy('products.name_normalized')
    const apis = await apisOf(rows.map((r) => r.id))
    return rows.map((row) => ({ ...toProduct(row), apis: apis.get(row.id) ?? [] }))
  }

  async function findVisible (id: number, viewer: Viewer | null, q: Knex | Knex.Transaction = db): Promise<Product & { apis: Api[] }> {
    const row: ProductRow | undefined = await visibleProducts(q, viewer).where('products.id', id).first(PRODUCT_COLUMNS)
    if (row === undefined) throw new NotFound('There is no such product, or it is not shown to you.')
    return { ...toProduct(row), apis: (await apisOf([id], q)).get(id) ?? [] }
  }

  /** APIs in at least one product this viewer may see. */
  async function listVisibleApis (viewer: Viewer | null): Promise<Api[]> {
    const rows = await db('apis').select(API_COLUMNS)
      .whereIn('apis.id', db('product_apis').whereIn('product_id', visibleProducts(db, viewer).select('products.id')).select('api_id'))
      .orderBy('apis.name_normalized')
    return rows.map(toApi)
  }

  async function findVisibleApi (id: number, viewer: Viewer | null): Promise<{ api: Api, products: Product[] }> {
    const rows: ProductRow[] = await visibleProducts(db, viewer).join('product_apis', 'product_apis.product_id', 'products.id').where('product_apis.api_id', id)
      .select(PRODUCT_COLUMNS).orderBy('products.name_normalized')
    if (rows.length === 0) throw new NotFound('There is no such API, or it is not shown to you.')
    const api = await db('apis').where('id', id).first(API_COLUMNS)
    if (api === undefined) throw new NotFound('There is no such API, or it is not shown to you.')
    return { api: toApi(api), products: rows.map(toProduct) }
  }

  return {
    findProduct, findDetails, listProducts, createProduct, updateProduct, setState, deleteProduct, countLiveSubscriptions,
    addApi, removeApi, addGroup, removeGroup, listVisible, findVisible, listVisibleApis, findVisibleApi
  }
}

export type Products = ReturnType<typeof createProducts>
