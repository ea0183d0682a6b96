import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { API_NAME_MAX, API_PATH_MAX, DESCRIPTION_MAX, SERVICE_URL_MAX, type ApiInput } from '../../services/catalog/apis'
import { documentFromBytes, tooLargeMessage } from '../../services/catalog/openapi-import'
import { Invalid, TooLarge } from '../../services/kernel/errors'
import { checkbox, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, parseId } from '../shared/params'
import referencePages, { apiReferenceContext } from '../reference/pages'
import { actorOf } from '../../http/request-account'
import { DEFAULT_TIMEOUT_SECONDS, TIMEOUT_MAX_SECONDS, policyInput, type ApiPolicyInput } from '../../services/gateway/policies'

// The document comes pasted (text) or uploaded (a file, multipart): `openapi` may be either, and
// the page's file input is `openapiFile`. Sizes are checked here and by the service (413 past
// OPENAPI_MAX_MB); the body limit below bounds a pasted one.
const documentField = Type.Optional(Type.Unsafe<string | Buffer>({ anyOf: [{ type: 'string' }, { type: 'object' }] }))
const apiForm = formSchema({ name: API_NAME_MAX * 4, path: API_PATH_MAX * 4, serviceUrl: SERVICE_URL_MAX * 2, description: DESCRIPTION_MAX * 4 }, {
  openapi: documentField,
  openapiFile: documentField,
  removeOpenapi: checkbox()
})
type ApiForm = FormBody<typeof apiForm>

// The gateway's policy for the API: its own form on the API's page.
const policyForm = formSchema({
  corsOrigins: 40_000, corsHeaders: 10_000, keyHeader: 400, keyQuery: 400, backendHeaders: 100_000, backendQuery: 100_000, suppliedSchemes: 20_000, timeoutSeconds: 40
}, { backendClear: checkbox(), mock: checkbox() })
type PolicyForm = FormBody<typeof policyForm>

function policyFormInput (body: PolicyForm): ApiPolicyInput {
  return { ...body, backendClear: body.backendClear === 'on', mock: body.mock === 'on' }
}

/**
 * A document of up to OPENAPI_MAX_MB, pasted (URL-encoded: up to three bytes a byte) or uploaded. A
 * file one byte over the limit is kept (cut there), so the page can say so with the other fields.
 */
function uploadOptions (maxBytes: number) {
  return {
    bodyLimit: maxBytes * 3 + 64 * 1024,
    config: { multipartOptions: { throwFileSizeLimit: false, limits: { files: 2, fileSize: maxBytes + 1, fieldSize: maxBytes + 1 } } }
  }
}

/** The document's text: an uploaded file wins over the textarea (UTF-8 or UTF-16; otherwise Invalid). */
function documentText (body: ApiForm, maxBytes: number): string {
  const file = [body.openapiFile, body.openapi].find((v): v is Buffer => Buffer.isBuffer(v) && v.length > 0)
  if (file !== undefined && file.length > maxBytes) throw new TooLarge(tooLargeMessage(maxBytes))
  if (file !== undefined) return documentFromBytes(file)
  return typeof body.openapi === 'string' ? body.openapi : ''
}

/** The same for showing the form again: a file that cannot be read comes back empty. */
// A document larger than this is not drawn again into the form's text area (choosing the file again is quicker).
const KEPT_DOCUMENT_MAX = 1024 * 1024

function keptDocumentText (body: ApiForm, maxBytes: number): string {
  if (typeof body.openapi === 'string' && body.openapi.length > KEPT_DOCUMENT_MAX) return ''
  try {
    const text = documentText(body, maxBytes)
    return text.length > KEPT_DOCUMENT_MAX ? '' : text
  } catch {
    return ''
  }
}

function apiInput (body: ApiForm, maxBytes: number): ApiInput {
  return { name: body.name, path: body.path, serviceUrl: body.serviceUrl, description: body.description, openapi: documentText(body, maxBytes), removeOpenapi: body.removeOpenapi === 'on' }
}

/** What the form shows again after an error: every field, the document as text (files cannot be kept). */
function keptForm (body: ApiForm, maxBytes: number): Record<string, unknown> {
  const { openapiFile: _, ...rest } = keptValues(body) as Record<string, unknown>
  return { ...rest, openapi: keptDocumentText(body, maxBytes) }
}

/** A document over the limit is a 413 on the same form, its message beside the document's field. */
const besideField = (err: unknown): unknown => err instanceof TooLarge ? new Invalid({ openapi: err.message }, 413) : err

export default async function apiRoutes (app: FastifyInstance): Promise<void> {
  const { apis } = app.services
  const maxBytes = app.config.openapiMaxBytes
  const upload = uploadOptions(maxBytes)
  const newPage = { title: 'Add an API', api: null, gatewayUrl: app.config.gatewayUrl, maxMb: maxBytes / (1024 * 1024) }

  // A body past even the pasted limit cannot be read: the form comes back empty, with the reason.
  app.setErrorHandler(async (error: Error & { code?: string }, request, reply) => {
    if (error.code !== 'FST_ERR_CTP_BODY_TOO_LARGE' || request.method !== 'POST') throw error
    const id = (request.params as { id?: string }).id
    const data = id === undefined ? newPage : await editPage(parseId(id))
    return await reply.page('publisher/apis/form', { ...data, errors: { openapi: tooLargeMessage(maxBytes) } }, 413)
  })

  async function editPage (id: number, data: Record<string, unknown> = {}) {
    const api = await apis.findApi(id)
    return {
      title: `API: ${api.name}`,
      api,
      values: { name: api.name, path: api.path, serviceUrl: api.serviceUrl, description: api.description },
      policyValues: policyInput(api.policy),
      secretNames: await apis.backendSecretNames(id),
      timeouts: { default: DEFAULT_TIMEOUT_SECONDS, max: TIMEOUT_MAX_SECONDS },
      gatewayUrl: app.config.gatewayUrl,
      maxMb: maxBytes / (1024 * 1024),
      ...data
    }
  }

  app.get('/', async (_request, reply) => {
    return await reply.page('publisher/apis/list', { title: 'APIs', apis: await apis.listApis(), gatewayUrl: app.config.gatewayUrl })
  })

  app.get('/new', async (_request, reply) => await reply.page('publisher/apis/form', newPage))

  app.post<{ Body: ApiForm }>('/', { schema: apiForm, ...upload }, async (request, reply) => {
    try {
      const api = await apis.createApi(apiInput(request.body, maxBytes), actorOf(request))
      request.session.flash = `The API ${api.name} was added.`
      return await reply.code(303).redirect(`/admin/apis/${api.id}`)
    } catch (err) {
      return await showFormErrors(reply, besideField(err), 'publisher/apis/form', { ...newPage, values: keptForm(request.body, maxBytes) })
    }
  })

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    return await reply.page('publisher/apis/form', await editPage(parseId(request.params.id)))
  })

  app.post<{ Params: { id: string }, Body: ApiForm }>('/:id', { schema: { ...idParams, ...apiForm }, ...upload }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const api = await apis.updateApi(id, apiInput(request.body, maxBytes), actorOf(request))
      request.session.flash = `The API ${api.name} was saved.`
      return await reply.code(303).redirect(`/admin/apis/${id}`)
    } catch (err) {
      return await showFormErrors(reply, besideField(err), 'publisher/apis/form', await editPage(id, { values: keptForm(request.body, maxBytes) }))
    }
  })

  // The gateway's policy: applied from the very next call (within a second on other instances).
  // Credentials are write-only: the page shows their names, never a value.
  app.post<{ Params: { id: string }, Body: PolicyForm }>('/:id/gateway', { schema: { ...idParams, ...policyForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const api = await apis.setPolicy(id, policyFormInput(request.body), actorOf(request))
      request.session.flash = `The gateway policy of ${api.name} was saved. It applies from the next call.`
      return await reply.code(303).redirect(`/admin/apis/${id}#gateway`)
    } catch (err) {
      // Credentials are never written back into a page, even the one that refused them.
      return await showFormErrors(reply, err, 'publisher/apis/form', await editPage(id, { policyValues: keptValues(request.body, 'backendHeaders', 'backendQuery') }))
    }
  })

  // The document as imported, byte for byte.
  app.get<{ Params: { id: string } }>('/:id/openapi', { schema: idParams }, async (request, reply) => {
    const { api, text, format } = await apis.findDocument(parseId(request.params.id))
    return await reply
      .header('content-type', format === 'json' ? 'application/json; charset=utf-8' : 'application/yaml; charset=utf-8')
      .header('content-disposition', `attachment; filename="${api.path.replace(/\//g, '-')}-openapi.${format}"`)
      .send(text)
  })

  // The reference as developers see it, for any API (even one in no published product).
  await app.register(referencePages, {
    prefix: '/:id/reference',
    titleNote: 'as developers see it',
    base: (request) => `/admin/apis/${(request.params as { id: string }).id}/reference`,
    load: async (request) => {
      const api = await apis.findApi(parseId((request.params as { id: string }).id))
      return {
        ...apiReferenceContext(app, api),
        products: [],
        crumbs: [{ href: '/admin/apis', label: 'APIs' }, { href: `/admin/apis/${api.id}`, label: api.name }],
        tryIt: null
      }
    }
  })

  app.get<{ Params: { id: string } }>('/:id/delete', { schema: idParams }, async (request, reply) => {
    const api = await apis.findApi(parseId(request.params.id))
    return await reply.page('publisher/apis/delete', { title: `Delete ${api.name}?`, api })
  })

  app.post<{ Params: { id: string } }>('/:id/delete', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const api = await apis.deleteApi(parseId(request.params.id), actorOf(request))
    request.session.flash = `The API ${api.name} was deleted.`
    return await reply.code(303).redirect('/admin/apis')
  })
}
