import type { FastifyInstance } from 'fastify'
import { TOKEN_NAME_MAX } from '../../services/api-tokens/api-tokens'
import { formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, parseId } from '../shared/params'
import { actorOf, signedIn } from '../../http/request-account'
import { API_PREFIX } from '../../http/mounts'

const tokenForm = formSchema({ name: TOKEN_NAME_MAX * 4, expiresInDays: 20 })

/** Management API tokens: create (the token is shown once), list, revoke. */
export default async function apiTokenRoutes (app: FastifyInstance): Promise<void> {
  const { apiTokens } = app.services

  async function listPage (data: Record<string, unknown> = {}) {
    return {
      title: 'API tokens',
      tokens: await apiTokens.listTokens(),
      defaultDays: apiTokens.defaultDays,
      apiUrl: `${app.config.publicUrl}${API_PREFIX}`,
      values: {},
      ...data
    }
  }

  app.get('/', async (_request, reply) => await reply.page('publisher/api-tokens/list', await listPage()))

  // The new token is shown on this very answer and never again: it is not put in the session (a
  // copy of the database alone must reveal no live token), so this answer is a page, not a redirect.
  app.post<{ Body: FormBody<typeof tokenForm> }>('/', { schema: tokenForm }, async (request, reply) => {
    try {
      const { token, apiToken } = await apiTokens.createToken(request.body, { ...actorOf(request), id: signedIn(request).id })
      return await reply.page('publisher/api-tokens/list', await listPage({ created: { token, apiToken } }))
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/api-tokens/list', await listPage({ values: keptValues(request.body) }))
    }
  })

  app.get<{ Params: { id: string } }>('/:id/revoke', { schema: idParams }, async (request, reply) => {
    const id = parseId(request.params.id)
    const token = (await apiTokens.listTokens()).find((t) => t.id === id)
    if (token === undefined) return await reply.code(404).page('error', { title: 'Page not found', message: 'There is no API token with this id.', status: 404 })
    return await reply.page('publisher/api-tokens/revoke', { title: `Revoke the token ${token.name}?`, token })
  })

  app.post<{ Params: { id: string } }>('/:id/revoke', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    try {
      const token = await apiTokens.revokeToken(parseId(request.params.id), actorOf(request))
      request.session.flash = `The token ${token.name} was revoked: it no longer works.`
      return await reply.code(303).redirect('/admin/api-tokens')
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/api-tokens/list', await listPage())
    }
  })
}
