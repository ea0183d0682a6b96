import type { FastifyInstance } from 'fastify'
import { CLAIM_MAX, CLIENT_ID_MAX, CLIENT_SECRET_MAX, DEFAULT_SCOPES, DOMAINS_MAX, GROUP_MAP_MAX, ISSUER_MAX, PROVIDER_NAME_MAX, SCOPES_MAX, type ProviderInput } from '../../services/identity/providers'
import { checkbox, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { idParams, parseId } from '../shared/params'
import { actorOf } from '../../http/request-account'

const providerForm = formSchema({
  name: PROVIDER_NAME_MAX * 4,
  issuer: ISSUER_MAX * 2,
  clientId: CLIENT_ID_MAX * 2,
  clientSecret: CLIENT_SECRET_MAX * 2,
  scopes: SCOPES_MAX * 2,
  groupsClaim: CLAIM_MAX * 2,
  groupMap: GROUP_MAP_MAX * 2,
  allowedDomains: DOMAINS_MAX * 2
}, { createAccounts: checkbox(), enabled: checkbox(), localMfa: checkbox() })

type ProviderBody = FormBody<typeof providerForm>

function inputOf (body: ProviderBody): ProviderInput {
  return {
    name: body.name,
    issuer: body.issuer,
    clientId: body.clientId,
    clientSecret: body.clientSecret,
    scopes: body.scopes,
    groupsClaim: body.groupsClaim,
    groupMap: body.groupMap,
    allowedDomains: body.allowedDomains,
    createAccounts: body.createAccounts === 'on',
    enabled: body.enabled === 'on',
    localMfa: body.localMfa === 'on'
  }
}

/** Identity providers (OpenID Connect) for single sign-on: list, add, edit, delete behind a confirmation. */
export default async function identityRoutes (app: FastifyInstance): Promise<void> {
  const { providers } = app.services
  const redirectUri = (id: number | string): string => `${app.config.publicUrl}/signin/oidc/${id}/callback`
  const newDefaults = { scopes: DEFAULT_SCOPES, enabled: true, createAccounts: false, localMfa: false }

  app.get('/', async (_request, reply) => {
    const [list, linked] = await Promise.all([providers.listProviders(), providers.linkedAccounts()])
    return await reply.page('publisher/identity/list', { title: 'Identity providers', providers: list, linked, redirectUri })
  })

  app.get('/new', async (_request, reply) => await reply.page('publisher/identity/form', {
    title: 'Add an identity provider', provider: null, values: newDefaults, redirectUri: redirectUri('<id>')
  }))

  app.post<{ Body: ProviderBody }>('/', { schema: providerForm }, async (request, reply) => {
    try {
      const provider = await providers.createProvider(inputOf(request.body), actorOf(request))
      request.session.flash = `${provider.name} was added. Register ${redirectUri(provider.id)} as its redirect URI with the provider.`
      return await reply.code(303).redirect(`/admin/identity/${provider.id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/identity/form', {
        title: 'Add an identity provider', provider: null, values: { ...inputOf(request.body), clientSecret: '' }, redirectUri: redirectUri('<id>')
      })
    }
  })

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    const provider = await providers.getProvider(parseId(request.params.id))
    return await reply.page('publisher/identity/form', { title: provider.name, provider, values: provider, redirectUri: redirectUri(provider.id) })
  })

  app.post<{ Params: { id: string }, Body: ProviderBody }>('/:id', { schema: { ...idParams, ...providerForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const provider = await providers.updateProvider(id, inputOf(request.body), actorOf(request))
      request.session.flash = `${provider.name} was saved.`
      return await reply.code(303).redirect(`/admin/identity/${provider.id}`)
    } catch (err) {
      const provider = await providers.getProvider(id)
      return await showFormErrors(reply, err, 'publisher/identity/form', {
        title: provider.name, provider, values: { ...keptValues(inputOf(request.body), 'clientSecret') }, redirectUri: redirectUri(provider.id)
      })
    }
  })

  app.get<{ Params: { id: string } }>('/:id/delete', { schema: idParams }, async (request, reply) => {
    const id = parseId(request.params.id)
    const provider = await providers.getProvider(id)
    const linked = (await providers.linkedAccounts()).get(id) ?? 0
    return await reply.page('publisher/identity/delete', { title: `Delete ${provider.name}?`, provider, linked })
  })

  app.post<{ Params: { id: string } }>('/:id/delete', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
    const provider = await providers.deleteProvider(parseId(request.params.id), actorOf(request))
    request.session.flash = `${provider.name} was deleted: the sign-in page no longer offers it.`
    return await reply.code(303).redirect('/admin/identity')
  })
}
