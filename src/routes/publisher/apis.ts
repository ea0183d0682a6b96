import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { actorOf } from '../../plugins/auth'
import { API_NAME_MAX, API_PATH_MAX, DESCRIPTION_MAX, SERVICE_URL_MAX, type ApiInput } from '../../services/catalog/apis'
import { OPENAPI_MAX_BYTES, documentFromBytes } from '../../services/catalog/openapi-import'
import { checkbox, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, pageProperty, pagedTitle, parseId, querySchema } from '../shared/params'
import { referenceData } from '../shared/reference'

// The document comes pasted (text) or uploaded (a file, multipart): `openapi` may be either, and
// the page's file input is `openapiFile`. Sizes are checked by the service (413 past 10 MB).
const documentField = Type.Optional(Type.Unsafe<string | Buffer>({ anyOf: [{ type: 'string', maxLength: OPENAPI_MAX_BYTES * 3 }, { type: 'object' }] }))
const apiForm = formSchema({ name: API_NAME_MAX * 4, path: API_PATH_MAX * 4, serviceUrl: SERVICE_URL_MAX * 2, description: DESCRIPTION_MAX * 4 }, {
  openapi: documentField,
  openapiFile: documentField,
  removeOpenapi: checkbox()
})
type ApiForm = FormBody<typeof apiForm>

/** A 10 MB document, pasted (URL-encoded: up to three bytes a byte) or uploaded. */
const uploadOptions = {
  bodyLimit: OPENAPI_MAX_BYTES * 3 + 64 * 1024,
  config: { multipartOptions: { limits: { files: 2, fileSize: OPENAPI_MAX_BYTES, fieldSize: OPENAPI_MAX_BYTES + 1 } } }
}

/** The document's text: an uploaded file wins over the textarea (UTF-8 or UTF-16; otherwise Invalid). */
function documentText (body: ApiForm): string {
  const file = [body.openapiFile, body.openapi].find((v): v is Buffer => Buffer.isBuffer(v) && v.length > 0)
  if (file !== undefined) return documentFromBytes(file)
  return typeof body.openapi === 'string' ? body.openapi : ''
}

/** The same for showing the form again: a file that cannot be read comes back empty. */
function keptDocumentText (body: ApiForm): string {
  try {
    return documentText(body)
  } catch {
    return ''
  }
}

function apiInput (body: ApiForm): ApiInput {
  return { name: body.name, path: body.path, serviceUrl: body.serviceUrl, description: body.description, openapi: documentText(body), removeOpenapi: body.removeOpenapi === 'on' }
}

/** What the form shows again after an error: every field, the document as text (files cannot be kept). */
function keptForm (body: ApiForm): Record<string, unknown> {
  const { openapiFile: _, ...rest } = keptValues(body) as Record<string, unknown>
  return { ...rest, openapi: keptDocumentText(body) }
}

export default async function apiRoutes (app: FastifyInstance): Promise<void> {
  const { apis } = app.services

  async function editPage (id: number, data: Record<string, unknown> = {}) {
    const api = await apis.findApi(id)
    return { title: `API: ${api.name}`, api, values: { name: api.name, path: api.path, serviceUrl: api.serviceUrl, description: api.description }, gatewayUrl: app.config.gatewayUrl, ...data }
  }

  app.get('/', async (_request, reply) => {
    return await reply.page('publisher/apis/list', { title: 'APIs', apis: await apis.listApis(), gatewayUrl: app.config.gatewayUrl })
  })

  app.get('/new', async (_request, reply) => await reply.page('publisher/apis/form', { title: 'Add an API', api: null, gatewayUrl: app.config.gatewayUrl }))

  app.post<{ Body: ApiForm }>('/', { schema: apiForm, ...uploadOptions }, async (request, reply) => {
    try {
      const api = await apis.createApi(apiInput(request.body), actorOf(request))
      request.session.flash = `The API ${api.name} was added.`
      return await reply.code(303).redirect(`/admin/apis/${api.id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/apis/form', { title: 'Add an API', api: null, gatewayUrl: app.config.gatewayUrl, values: keptForm(request.body) })
    }
  })

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    return await reply.page('publisher/apis/form', await editPage(parseId(request.params.id)))
  })

  app.post<{ Params: { id: string }, Body: ApiForm }>('/:id', { schema: { ...idParams, ...apiForm }, ...uploadOptions }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const api = await apis.updateApi(id, apiInput(request.body), actorOf(request))
      request.session.flash = `The API ${api.name} was saved.`
      return await reply.code(303).redirect(`/admin/apis/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/apis/form', await editPage(id, { values: keptForm(request.body) }))
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

  // The reference page as developers see it, for any API (even one in no published product).
  app.get<{ Params: { id: string }, Querystring: { page?: number } }>('/:id/reference', { schema: { ...idParams, ...querySchema(pageProperty) } }, async (request, reply) => {
    const id = parseId(request.params.id)
    const api = await apis.findApi(id)
    const data = referenceData(app.config.gatewayUrl, api, await apis.findReference(id), request.query.page, `/admin/apis/${id}/reference`)
    const title = `Reference: ${api.name}`
    return await reply.page('portal/catalog/api', { title: data.part === null ? title : pagedTitle(title, data.part), products: [], preview: true, ...data })
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
