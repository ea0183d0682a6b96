import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { NotFound } from '../../services/kernel/errors'
import type { Api } from '../../services/catalog/apis'
import type { ReferenceSource } from '../../services/catalog/reference/reference-store'
import type { OperationView, ReferenceOverview } from '../../services/catalog/reference/draw'
import { codeSamples, sampleRequest, subscriptionKeyHeader } from '../../services/catalog/reference/samples'
import { fieldName } from '../../services/catalog/reference/try-request'
import { KEY_HEADER, KEY_QUERY, servedGatewayText } from '../../services/catalog/reference/gateway-names'
import { pageProperty, pagedTitle, querySchema } from '../shared/params'
import tryRoutes, { type TryTarget } from './try-it'

/** What one API's reference pages need, found for the request (a 404 when the viewer may not see it). */
export interface ReferenceContext {
  api: { id: number, name: string, path: string, description: string, hasDocument: boolean }
  source: ReferenceSource
  /** The base URL of calls: the API's gateway URL. */
  callBase: string
  /** The credential samples send, given a subscription key (or null): the subscription key header, or a token. */
  credential: (key: string | null) => [string, string]
  /** How to authenticate with Portico itself, said on the overview. */
  portalAuth: 'subscription-key' | 'management-token'
  /** The header and query parameter that carry the subscription key for this API (its gateway policy). */
  keyNames: { header: string, query: string }
  /** The document's security schemes the gateway supplies: the pages and samples leave them out. */
  supplied: ReadonlySet<string>
  products: Array<{ id: number, name: string }>
  /** Links above the title: where this reference is. */
  crumbs: Array<{ href: string, label: string }>
  /** Which documents the pages offer: as imported, for the gateway, or one served elsewhere. */
  downloads: { imported: boolean, gateway: boolean, elsewhere?: string }
  gatewayDocument?: (kind: 'json' | 'yaml') => Promise<string | null>
  importedDocument?: () => Promise<{ text: string, format: 'json' | 'yaml' }>
  /** "Try it": the developer's subscriptions covering this API, and how to send; null where it is not offered. */
  tryIt: TryTarget | null
}

/** The context of an imported API's reference (the parts every mount shares). */
export function apiReferenceContext (app: FastifyInstance, api: Api): Pick<ReferenceContext, 'api' | 'source' | 'callBase' | 'credential' | 'portalAuth' | 'keyNames' | 'supplied' | 'downloads' | 'gatewayDocument' | 'importedDocument'> {
  const { apis } = app.services
  const keyNames = { header: api.policy.keyHeader ?? KEY_HEADER, query: api.policy.keyQuery ?? KEY_QUERY }
  return {
    keyNames,
    supplied: new Set(api.policy.suppliedSchemes),
    api,
    source: apis.references.source(api.id),
    callBase: `${app.config.gatewayUrl}/${api.path}`,
    credential: (key) => subscriptionKeyHeader(key, keyNames.header),
    portalAuth: 'subscription-key',
    downloads: { imported: api.hasDocument, gateway: api.hasDocument },
    gatewayDocument: async (kind) => await apis.gatewayDocument(api.id, kind),
    importedDocument: async () => { const { text, format } = await apis.findDocument(api.id); return { text, format } }
  }
}

export interface ReferencePagesOptions {
  /** The pages' base path for this request (`/apis/12`, `/admin/apis/12/reference`). */
  base: (request: FastifyRequest) => string
  load: (request: FastifyRequest) => Promise<ReferenceContext>
  /** Said after every page's title, where the same reference is also shown elsewhere (the administrators' preview). */
  titleNote?: string
}

const tagParams = { params: Type.Object({ tag: Type.String({ maxLength: 600 }) }, { additionalProperties: true }) }
const keyParams = { params: Type.Object({ key: Type.String({ maxLength: 2300 }) }, { additionalProperties: true }) }
const nameParams = { params: Type.Object({ name: Type.String({ maxLength: 1100 }) }, { additionalProperties: true }) }
const searchQuery = querySchema({ q: { type: 'string', maxLength: 200 }, ...pageProperty })
const subscriptionQuery = querySchema({ subscription: { type: 'string', maxLength: 20 } })

/** Links between the reference's pages. */
export function referenceLinks (base: string) {
  return {
    overview: base,
    tag: (tag: string, page?: number) => `${base}/tags/${encodeURIComponent(tag)}${page !== undefined && page > 1 ? `?page=${page}` : ''}`,
    operation: (key: string) => `${base}/operations/${encodeURIComponent(key)}`,
    schema: (name: string) => `${base}/schemas/${encodeURIComponent(name)}`,
    schemas: (page?: number) => `${base}/schemas${page !== undefined && page > 1 ? `?page=${page}` : ''}`,
    search: (q: string, page?: number) => `${base}/search?${new URLSearchParams({ q, ...(page !== undefined && page > 1 ? { page: String(page) } : {}) }).toString()}`
  }
}

/**
 * An API's reference, page by page: the overview, a tag's operations, one operation, one schema,
 * the schemas, search, downloads, and "Try it". Registered for the developer portal, for
 * administrators (any API) and for Portico's own management API, each with its `load`.
 */
export default async function referencePages (app: FastifyInstance, options: ReferencePagesOptions): Promise<void> {
  const titled = (title: string): string => options.titleNote === undefined ? title : `${title} (${options.titleNote})`

  async function overviewOf (context: ReferenceContext): Promise<ReferenceOverview> {
    const overview = await context.source.overview()
    if (overview === null) throw new NotFound(context.api.hasDocument ? 'This API\'s reference is being drawn. Try again in a minute.' : 'This API has no reference yet.')
    // What the gateway supplies is not the caller's to send: not said, not in the samples.
    return context.supplied.size === 0 ? overview : { ...overview, securitySchemes: overview.securitySchemes.filter((s) => !context.supplied.has(s.name)) }
  }

  function common (request: FastifyRequest, context: ReferenceContext, overview: ReferenceOverview | null) {
    const base = options.base(request)
    return { api: context.api, overview, crumbs: context.crumbs, links: referenceLinks(base), base, downloads: context.downloads, q: '' }
  }

  app.get<{ Querystring: { subscription?: string } }>('/', { schema: subscriptionQuery }, async (request, reply) => {
    const context = await options.load(request)
    const overview = await context.source.overview()
    const keys = context.tryIt === null ? [] : await context.tryIt.subscriptions()
    return await reply.page('reference/overview', {
      ...common(request, context, overview),
      title: titled(context.api.name),
      products: context.products,
      callBase: context.callBase,
      portalAuth: context.portalAuth,
      keyHeader: context.keyNames.header,
      keyQuery: context.keyNames.query,
      hasKey: keys.length > 0,
      signedIn: request.account !== null
    })
  })

  app.get<{ Params: { tag: string }, Querystring: { page?: number } }>('/tags/:tag', { schema: { ...tagParams, ...querySchema(pageProperty) } }, async (request, reply) => {
    const context = await options.load(request)
    const overview = await overviewOf(context)
    const tag = overview.tags.find((t) => t.name === request.params.tag)
    if (tag === undefined) throw new NotFound('This API has no operations with this tag.')
    const result = await context.source.tag(tag.name, request.query.page)
    return await reply.page('reference/tag', { ...common(request, context, overview), title: titled(pagedTitle(`${tag.name} · ${context.api.name}`, result)), tag, result })
  })

  app.get<{ Params: { key: string }, Querystring: { subscription?: string } }>('/operations/:key', { schema: { ...keyParams, ...subscriptionQuery } }, async (request, reply) => {
    const context = await options.load(request)
    const overview = await overviewOf(context)
    const operation = await context.source.operation(request.params.key)
    if (operation === null) throw new NotFound('This API has no such operation.')
    return await reply.page('reference/operation', await operationPage(request, context, overview, operation, request.query.subscription))
  })

  /** The operation page's data; the try-it answer and its form errors draw the same page. */
  async function operationPage (request: FastifyRequest, context: ReferenceContext, overview: ReferenceOverview, operation: OperationView, chosen: string | undefined, data: Record<string, unknown> = {}) {
    const subscriptions = context.tryIt === null ? [] : await context.tryIt.subscriptions()
    const subscription = subscriptions.find((s) => String(s.id) === chosen) ?? subscriptions[0] ?? null
    const samples = codeSamples(sampleRequest(context.callBase, operation, overview.securitySchemes, context.credential(subscription?.primaryKey ?? null), context.supplied))
    // A requirement the gateway meets in full asks nothing of the caller; the others without what it supplies.
    const owed = operation.security.map((r) => r.filter((x) => !context.supplied.has(x.scheme)))
    const security = owed.some((r) => r.length === 0) ? [] : owed
    const values: Record<string, string> = { subscription: subscription === null ? '' : String(subscription.id), contentType: operation.sampleBody?.mediaType ?? '', body: operation.sampleBody?.value ?? '' }
    for (const p of operation.parameters) values[fieldName(p.location, p.name)] = p.sample ?? ''
    // The error summary links to the try-it form's fields, whose ids are their positions.
    const errorLinks: Record<string, string> = { subscription: 'try-subscription', contentType: 'try-content-type', body: 'try-body' }
    operation.parameters.forEach((p, i) => { errorLinks[fieldName(p.location, p.name)] = `try-p${i + 1}` })
    return {
      ...common(request, context, overview),
      title: titled(`${operation.method} ${operation.path} · ${context.api.name}`),
      operation: { ...operation, security },
      schemes: overview.securitySchemes.filter((s) => security.some((r) => r.some((x) => x.scheme === s.name))),
      samples,
      subscriptions: subscriptions.map((s) => ({ id: s.id, label: `${s.displayName} (${s.productName})` })),
      subscription: subscription === null ? null : { id: subscription.id, label: subscription.displayName },
      tryIt: context.tryIt !== null,
      signedIn: request.account !== null,
      fieldName,
      values,
      errorLinks,
      keyHeader: context.keyNames.header,
      ...data
    }
  }

  app.get<{ Params: { name: string } }>('/schemas/:name', { schema: nameParams }, async (request, reply) => {
    const context = await options.load(request)
    const overview = await overviewOf(context)
    const schema = await context.source.schema(request.params.name)
    if (schema === null) throw new NotFound('This API has no schema of this name.')
    return await reply.page('reference/schema', { ...common(request, context, overview), title: titled(`${request.params.name} · ${context.api.name}`), name: request.params.name, schema })
  })

  app.get<{ Querystring: { page?: number } }>('/schemas', { schema: querySchema(pageProperty) }, async (request, reply) => {
    const context = await options.load(request)
    const overview = await overviewOf(context)
    const result = await context.source.schemas(request.query.page)
    return await reply.page('reference/schemas', { ...common(request, context, overview), title: titled(pagedTitle(`Schemas · ${context.api.name}`, result)), result })
  })

  app.get<{ Querystring: { q?: string, page?: number } }>('/search', { schema: searchQuery }, async (request, reply) => {
    const context = await options.load(request)
    const overview = await overviewOf(context)
    const q = (request.query.q ?? '').trim()
    const result = q === '' ? null : await context.source.search(q, request.query.page)
    const title = q === '' ? `Search · ${context.api.name}` : `“${q}” · ${context.api.name}`
    return await reply.page('reference/search', { ...common(request, context, overview), title: titled(result === null ? title : pagedTitle(title, result)), q, result })
  })

  async function sendDocument (reply: FastifyReply, text: string, format: 'json' | 'yaml', filename: string): Promise<FastifyReply> {
    return await reply
      .header('content-type', format === 'json' ? 'application/json; charset=utf-8' : 'application/yaml; charset=utf-8')
      .header('content-disposition', `attachment; filename="${filename}"`)
      .send(text)
  }

  app.get('/openapi', async (request, reply) => {
    const context = await options.load(request)
    if (context.importedDocument === undefined) throw new NotFound('This API has no document to download here.')
    const { text, format } = await context.importedDocument()
    return await sendDocument(reply, text, format, `${context.api.path.replace(/\//g, '-')}-openapi.${format}`)
  })

  async function sendGatewayDocument (request: FastifyRequest, reply: FastifyReply, kind: 'json' | 'yaml'): Promise<FastifyReply> {
    const context = await options.load(request)
    const stored = context.gatewayDocument === undefined ? null : await context.gatewayDocument(kind)
    if (stored === null) throw new NotFound('This API has no document to download here.')
    return await sendDocument(reply, servedGatewayText(stored, context.callBase), kind, `${context.api.path.replace(/\//g, '-')}-gateway.${kind}`)
  }

  // The document for calling through the gateway: its server is the gateway, the key required.
  app.get('/openapi.json', async (request, reply) => await sendGatewayDocument(request, reply, 'json'))
  app.get('/openapi.yaml', async (request, reply) => await sendGatewayDocument(request, reply, 'yaml'))

  await app.register(tryRoutes, {
    load: async (request: FastifyRequest, key: string) => {
      const context = await options.load(request)
      const overview = await overviewOf(context)
      const operation = await context.source.operation(key)
      if (operation === null) throw new NotFound('This API has no such operation.')
      if (context.tryIt === null) throw new NotFound('This reference has no "Try it".')
      return { context, overview, operation, target: context.tryIt }
    },
    operationPage
  })
}
