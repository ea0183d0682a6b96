import type { Knex } from 'knex'
import type { Actor, EventAction, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { NotFound, throwIfInvalid, type FieldErrors } from '../kernel/errors'
import type { Sealer } from '../kernel/sealer'
import { hasControlCharacters, identifierKey, nameProblem } from '../kernel/text-rules'

export const PROVIDER_NAME_MAX = 100
export const ISSUER_MAX = 500
export const CLIENT_ID_MAX = 500
export const CLIENT_SECRET_MAX = 2000
export const SCOPES_MAX = 500
export const CLAIM_MAX = 100
export const GROUP_MAP_MAX = 20_000
export const DOMAINS_MAX = 20_000
export const DEFAULT_SCOPES = 'openid email profile'

/** What the form sends (checkboxes as booleans); an empty clientSecret on an edit keeps the current one. */
export interface ProviderInput {
  name: string
  issuer: string
  clientId: string
  clientSecret: string
  scopes: string
  groupsClaim: string
  groupMap: string
  createAccounts: boolean
  allowedDomains: string
  enabled: boolean
  localMfa: boolean
}

/** A provider as pages show it: never its secret. */
export interface IdentityProvider extends Omit<ProviderInput, 'clientSecret'> {
  id: number
  createdAt: string
  updatedAt: string
}

/** What a sign-in needs: the provider, its secret opened, its map and domains parsed. */
export interface ProviderForSignIn extends IdentityProvider {
  clientSecret: string
  mappings: GroupMapping[]
  domains: string[]
}

export interface GroupMapping { value: string, groupName: string }

interface ProviderRow {
  id: number
  name: string
  issuer: string
  client_id: string
  client_secret: string
  scopes: string
  groups_claim: string
  group_map: string
  create_accounts: boolean | number
  allowed_domains: string
  enabled: boolean | number
  local_mfa: boolean | number
  form_origins: string
  created_at: string
  updated_at: string
}

function toProvider (row: ProviderRow): IdentityProvider {
  return {
    id: row.id,
    name: row.name,
    issuer: row.issuer,
    clientId: row.client_id,
    scopes: row.scopes,
    groupsClaim: row.groups_claim,
    groupMap: row.group_map,
    createAccounts: Boolean(row.create_accounts),
    allowedDomains: row.allowed_domains,
    enabled: Boolean(row.enabled),
    localMfa: Boolean(row.local_mfa),
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }
}

const lines = (text: string): string[] => text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '')

/** "claim value = Portico group name" lines; the last "=" separates them (a value may hold one). */
export function parseGroupMap (text: string): { mappings: GroupMapping[], problem: string | null } {
  const mappings: GroupMapping[] = []
  for (const [i, line] of lines(text).entries()) {
    const at = line.lastIndexOf('=')
    const value = at < 0 ? '' : line.slice(0, at).trim()
    const groupName = at < 0 ? '' : line.slice(at + 1).trim()
    if (value === '' || groupName === '') return { mappings, problem: `Line ${i + 1} is not "claim value = group name".` }
    mappings.push({ value, groupName })
  }
  return { mappings, problem: null }
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/
const CLAIM = /^[A-Za-z0-9_.:/-]+$/
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/** The issuer's URL, or why it cannot be one: https, or http on this machine only (a provider for tests or a local Keycloak). */
export function issuerProblem (issuer: string): string | null {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    return 'Enter the issuer\'s URL, as https://login.example.com/realms/main.'
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) return 'The issuer must be an https:// address (http:// only on this machine).'
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return 'The issuer is a plain address, without a user, a query or a fragment.'
  return null
}

/** The trimmed, canonical form of what the form sent. */
function cleaned (input: ProviderInput): ProviderInput {
  return {
    ...input,
    name: input.name.trim(),
    issuer: input.issuer.trim().replace(/\/+$/, ''),
    clientId: input.clientId.trim(),
    clientSecret: input.clientSecret.trim(),
    scopes: input.scopes.trim().split(/\s+/).filter((s) => s !== '').join(' ') || DEFAULT_SCOPES,
    groupsClaim: input.groupsClaim.trim(),
    groupMap: lines(input.groupMap).join('\n'),
    allowedDomains: lines(input.allowedDomains).map((d) => d.toLowerCase().replace(/^@/, '')).join('\n')
  }
}

export interface ProvidersDeps {
  db: Knex
  clock: Clock
  events: Events
  sealer: Sealer
  /** Reads the issuer's discovery document: no problem (and the origins its sign-in and sign-out forms lead to) when it answers, else what went wrong. */
  discover: (provider: { id: number | null, issuer: string, clientId: string, clientSecret: string }) => Promise<{ problem: string | null, formOrigins: string[] }>
}

/** Identity providers: OpenID Connect issuers the portal's sign-in offers, managed in /admin/identity. */
export function createProviders ({ db, clock, events, sealer, discover }: ProvidersDeps) {
  /** The input's problems, and (when it was checked) the origins its forms lead to. */
  async function errorsOf (input: ProviderInput, existing: ProviderRow | null): Promise<{ errors: FieldErrors, formOrigins: string }> {
    const errors: FieldErrors = {}
    // Until the issuer is checked: what was known before, else the issuer's own origin.
    let formOrigins = existing?.form_origins ?? (issuerProblem(input.issuer) === null ? new URL(input.issuer).origin : '')
    const name = nameProblem('name', input.name, PROVIDER_NAME_MAX)
    if (name !== null) errors.name = name
    const issuer = input.issuer.length > ISSUER_MAX ? `The issuer can be at most ${ISSUER_MAX} characters.` : issuerProblem(input.issuer)
    if (issuer !== null) errors.issuer = issuer
    if (input.clientId === '') errors.clientId = 'Enter the client ID the provider gave you.'
    else if (input.clientId.length > CLIENT_ID_MAX || hasControlCharacters(input.clientId)) errors.clientId = `The client ID is at most ${CLIENT_ID_MAX} printable characters.`
    if (input.clientSecret === '' && existing === null) errors.clientSecret = 'Enter the client secret the provider gave you.'
    else if (input.clientSecret.length > CLIENT_SECRET_MAX || hasControlCharacters(input.clientSecret)) errors.clientSecret = `The client secret is at most ${CLIENT_SECRET_MAX} printable characters.`
    const scopes = input.scopes.split(' ')
    if (!scopes.includes('openid')) errors.scopes = 'The scopes must include openid.'
    else if (input.scopes.length > SCOPES_MAX || scopes.some((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) errors.scopes = 'Scopes are words separated by spaces, as openid email profile.'
    if (input.groupsClaim !== '' && (input.groupsClaim.length > CLAIM_MAX || !CLAIM.test(input.groupsClaim))) errors.groupsClaim = 'A claim\'s name is letters, digits and _ . : / - only, as groups.'
    const map = parseGroupMap(input.groupMap)
    if (input.groupMap.length > GROUP_MAP_MAX) errors.groupMap = `The group map can be at most ${GROUP_MAP_MAX} characters.`
    else if (map.problem !== null) errors.groupMap = map.problem
    else if (map.mappings.length > 0 && input.groupsClaim === '') errors.groupMap = 'Name the claim that carries the groups, or leave the map empty.'
    else if (map.mappings.length > 0) {
      const known = new Map<string, string>()
      for (const row of await db('groups').select('name', 'system_key')) known.set(identifierKey(row.name), row.system_key ?? '')
      const unknown = map.mappings.filter((m) => !known.has(identifierKey(m.groupName)))
      const system = map.mappings.filter((m) => ['developers', 'guests'].includes(known.get(identifierKey(m.groupName)) ?? ''))
      if (unknown.length > 0) errors.groupMap = `There is no group named ${unknown.map((m) => `"${m.groupName}"`).join(', ')}.`
      else if (system.length > 0) errors.groupMap = 'Developers holds every account and Guests none: map claim values to other groups.'
    }
    const domains = lines(input.allowedDomains)
    if (input.allowedDomains.length > DOMAINS_MAX) errors.allowedDomains = `The domains can be at most ${DOMAINS_MAX} characters.`
    else {
      const bad = domains.filter((d) => !DOMAIN.test(d))
      if (bad.length > 0) errors.allowedDomains = `Not a domain: ${bad.slice(0, 3).join(', ')}. One domain a line, as example.com.`
    }
    // The issuer must answer its discovery document before it is offered to anyone.
    if (Object.keys(errors).length === 0 && input.enabled) {
      const secret = input.clientSecret !== '' ? input.clientSecret : (existing === null ? '' : sealer.open(existing.client_secret) ?? '')
      const checked = await discover({ id: existing?.id ?? null, issuer: input.issuer, clientId: input.clientId, clientSecret: secret })
      if (checked.problem !== null) errors.issuer = `The issuer's discovery document (${input.issuer}/.well-known/openid-configuration) could not be read: ${checked.problem}`
      formOrigins = checked.formOrigins.join(' ')
    }
    return { errors, formOrigins }
  }

  function columns (input: ProviderInput, now: string, formOrigins: string): Omit<ProviderRow, 'id' | 'created_at' | 'client_secret'> & { client_secret?: string } {
    return {
      form_origins: formOrigins,
      name: input.name,
      issuer: input.issuer,
      client_id: input.clientId,
      ...(input.clientSecret === '' ? {} : { client_secret: sealer.seal(input.clientSecret) }),
      scopes: input.scopes,
      groups_claim: input.groupsClaim,
      group_map: input.groupMap,
      create_accounts: input.createAccounts,
      allowed_domains: input.allowedDomains,
      enabled: input.enabled,
      local_mfa: input.localMfa,
      updated_at: now
    }
  }

  const audit = async (trx: Knex.Transaction, actor: Actor, action: EventAction, provider: { id: number, name: string }, details?: Record<string, unknown>): Promise<void> => {
    await events.record(trx, { actor, action, target: { type: 'identity-provider', id: provider.id, label: provider.name }, details })
  }

  async function findRow (q: Knex | Knex.Transaction, id: number): Promise<ProviderRow> {
    const row: ProviderRow | undefined = await q('identity_providers').where('id', id).first()
    if (row === undefined) throw new NotFound('There is no identity provider with this id.')
    return row
  }

  async function listProviders (): Promise<IdentityProvider[]> {
    return (await db('identity_providers').orderBy('name').orderBy('id')).map(toProvider)
  }

  /** The providers the sign-in page offers. */
  async function listEnabled (): Promise<Array<Pick<IdentityProvider, 'id' | 'name'>>> {
    return await db('identity_providers').where('enabled', true).orderBy('name').orderBy('id').select('id', 'name')
  }

  async function getProvider (id: number): Promise<IdentityProvider> {
    return toProvider(await findRow(db, id))
  }

  /** An enabled provider with its secret, for a sign-in; NotFound when it is gone or off. */
  async function forSignIn (id: number): Promise<ProviderForSignIn> {
    const row = await findRow(db, id)
    if (!Boolean(row.enabled)) throw new NotFound('This identity provider is not offered for sign-in.')
    return { ...toProvider(row), clientSecret: sealer.open(row.client_secret) ?? '', mappings: parseGroupMap(row.group_map).mappings, domains: lines(row.allowed_domains) }
  }

  async function createProvider (raw: ProviderInput, actor: Actor): Promise<IdentityProvider> {
    const input = cleaned(raw)
    const { errors, formOrigins } = await errorsOf(input, null)
    throwIfInvalid(errors)
    return await db.transaction(async (trx) => {
      const now = isoNow(clock)
      const [row] = await trx('identity_providers').insert({ ...columns(input, now, formOrigins), created_at: now }).returning('*') as ProviderRow[]
      await audit(trx, actor, 'identity-provider.created', row, { issuer: input.issuer, enabled: input.enabled })
      origins = null
      return toProvider(row)
    })
  }

  async function updateProvider (id: number, raw: ProviderInput, actor: Actor): Promise<IdentityProvider> {
    const input = cleaned(raw)
    const existing = await findRow(db, id)
    const { errors, formOrigins } = await errorsOf(input, existing)
    throwIfInvalid(errors)
    return await db.transaction(async (trx) => {
      await findRow(trx, id)
      const [row] = await trx('identity_providers').where('id', id).update(columns(input, isoNow(clock), formOrigins)).returning('*') as ProviderRow[]
      const before = toProvider(existing)
      const after = toProvider(row)
      const changed = (Object.keys(after) as Array<keyof IdentityProvider>).filter((key) => key !== 'updatedAt' && before[key] !== after[key])
      if (input.clientSecret !== '') changed.push('clientSecret' as keyof IdentityProvider)
      await audit(trx, actor, 'identity-provider.edited', row, { changed })
      origins = null
      return after
    })
  }

  async function deleteProvider (id: number, actor: Actor): Promise<IdentityProvider> {
    return await db.transaction(async (trx) => {
      const row = await findRow(trx, id)
      await trx('identity_providers').where('id', id).del()
      origins = null
      await audit(trx, actor, 'identity-provider.deleted', row)
      return toProvider(row)
    })
  }

  /** How many accounts have signed in through each provider (the list shows it). */
  async function linkedAccounts (): Promise<Map<number, number>> {
    const rows: Array<{ provider_id: number, n: number | string }> = await db('account_identities').groupBy('provider_id').select('provider_id').count({ n: '*' })
    return new Map(rows.map((r) => [r.provider_id, Number(r.n)]))
  }

  /** The providers an account has signed in with, for its details page. */
  async function identitiesOf (accountId: number): Promise<Array<{ providerId: number, name: string, lastSignInAt: string }>> {
    const rows: Array<{ provider_id: number, name: string, last_sign_in_at: string }> = await db('account_identities').join('identity_providers', 'identity_providers.id', 'account_identities.provider_id')
      .where('account_identities.developer_id', accountId).orderBy('identity_providers.name').select('account_identities.provider_id', 'identity_providers.name', 'account_identities.last_sign_in_at')
    return rows.map((r) => ({ providerId: r.provider_id, name: r.name, lastSignInAt: r.last_sign_in_at }))
  }

  let origins: { list: Promise<string[]>, until: number } | null = null

  /**
   * Where the pages' forms may lead besides this site: the enabled providers' sign-in and sign-out
   * endpoints (a form's redirect is held to the CSP's form-action). Read at most once a second.
   */
  async function formOrigins (): Promise<string[]> {
    const now = Date.now()
    if (origins === null || origins.until <= now) {
      const list = db('identity_providers').where('enabled', true).pluck('form_origins')
        .then((rows: string[]) => [...new Set(rows.flatMap((r) => r.split(' ')).filter((o) => /^https?:\/\/[a-z0-9.:[\]-]+$/i.test(o)))])
      origins = { list, until: now + 1000 }
      list.catch(() => { origins = null })
    }
    return await origins.list
  }

  return { formOrigins, identitiesOf, listProviders, listEnabled, getProvider, forSignIn, createProvider, updateProvider, deleteProvider, linkedAccounts }
}

export type Providers = ReturnType<typeof createProviders>
