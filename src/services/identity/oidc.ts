import { createHash } from 'node:crypto'
import type { Knex } from 'knex'
import { isoNow, type Clock } from '../kernel/clock'
import type { Sealer } from '../kernel/sealer'
import type { ProviderForSignIn } from './providers'

// openid-client is an ES module: loaded once, on the first sign-in or provider check.
type OpenId = typeof import('openid-client', { with: { 'resolution-mode': 'import' } })
type Configuration = InstanceType<OpenId['Configuration']>
type Tokens = Awaited<ReturnType<OpenId['authorizationCodeGrant']>>
let library: Promise<OpenId> | null = null
const openid = async (): Promise<OpenId> => await (library ??= import('openid-client'))

/** How long a started sign-in may take at the provider. */
export const FLOW_TTL_MS = 10 * 60_000
/** Discovery documents are read again after this long (and at once after the provider is edited). */
const CONFIGURATION_TTL_MS = 10 * 60_000
const PROVIDER_TIMEOUT_SECONDS = 10

/** What the browser that started a sign-in keeps, sealed, in a short-lived cookie: never a session row. */
export interface FlowState {
  /** The provider's id: a code brought to another provider's callback is refused. */
  p: number
  state: string
  nonce: string
  verifier: string
  next: string
  /** Expiry, ms since the epoch. */
  exp: number
}

/** A sign-in that went wrong: the message is for the page, never a stack trace. */
export class SignInProblem extends Error {
  /** `audited`: the refusal is already in the audit log (the account rules record their own). */
  constructor (message: string, readonly statusCode = 400, readonly audited = false) {
    super(message)
  }
}

/** The ID token's claims a sign-in uses, checked by openid-client (signature, iss, aud, exp, nonce). */
export interface ProviderClaims {
  sub: string
  email?: unknown
  email_verified?: unknown
  given_name?: unknown
  family_name?: unknown
  name?: unknown
  [claim: string]: unknown
}

interface ProviderKey { id: number | null, issuer: string, clientId: string, clientSecret: string, updatedAt?: string }

/** Why a library or network error happened, in words for a page (never the provider's raw answer at length). */
function reasonOf (err: unknown): string {
  const e = err as { code?: string, error?: string, error_description?: string, message?: string, cause?: { code?: string, message?: string } }
  if (typeof e.error === 'string') return e.error_description !== undefined ? `${e.error}: ${String(e.error_description).slice(0, 200)}` : e.error
  const message = typeof e.message === 'string' ? e.message.slice(0, 200) : 'unknown error'
  const cause = e.cause?.code ?? e.cause?.message
  return cause !== undefined ? `${message} (${String(cause).slice(0, 100)})` : message
}

/**
 * The OpenID Connect relying party (openid-client): discovery, the authorization URL with PKCE
 * (S256), state and nonce, the code exchange and the ID token's checks, and the provider's sign-out.
 */
export function createOidc ({ db, clock, sealer }: { db: Knex, clock: Clock, sealer: Sealer }) {
  const configurations = new Map<number, { key: string, config: Promise<Configuration>, until: number }>()

  async function discover (provider: ProviderKey): Promise<Configuration> {
    const client = await openid()
    const url = new URL(provider.issuer)
    // enableNonRepudiationChecks: the ID token's signature is checked against the provider's JWKS
    // even though it came straight from the token endpoint (openid-client skips that by default).
    return await client.discovery(url, provider.clientId, undefined, client.ClientSecretBasic(provider.clientSecret), {
      timeout: PROVIDER_TIMEOUT_SECONDS,
      execute: [...(url.protocol === 'http:' ? [client.allowInsecureRequests] : []), client.enableNonRepudiationChecks]
    })
  }

  /** The provider's configuration, from memory when it was read recently with the same settings. */
  async function configuration (provider: ProviderForSignIn): Promise<Configuration> {
    const key = `${provider.updatedAt}|${provider.issuer}|${provider.clientId}`
    const now = Date.now()
    const cached = configurations.get(provider.id)
    if (cached !== undefined && cached.key === key && cached.until > now) return await cached.config
    const config = discover(provider)
    configurations.set(provider.id, { key, config, until: now + CONFIGURATION_TTL_MS })
    config.catch(() => { configurations.delete(provider.id) })
    try {
      return await config
    } catch (err) {
      throw new SignInProblem(`${provider.name} could not be reached: ${reasonOf(err)}`, 502)
    }
  }

  /**
   * Checks an issuer before it is saved: its discovery document must answer. Gives the origins of
   * its authorization and end-session endpoints (where the sign-in and sign-out forms lead).
   */
  async function check (provider: ProviderKey): Promise<{ problem: string | null, formOrigins: string[] }> {
    try {
      const metadata = (await discover(provider)).serverMetadata()
      if (provider.id !== null) configurations.delete(provider.id)
      const origins = [metadata.authorization_endpoint, metadata.end_session_endpoint].filter((u): u is string => typeof u === 'string').map((u) => new URL(u).origin)
      return { problem: null, formOrigins: [...new Set(origins)] }
    } catch (err) {
      return { problem: reasonOf(err), formOrigins: [] }
    }
  }

  /** Starts a sign-in: the provider's authorization URL, and the sealed state for the browser's cookie. */
  async function start (provider: ProviderForSignIn, redirectUri: string, next: string): Promise<{ url: string, cookie: string }> {
    const client = await openid()
    const config = await configuration(provider)
    const flow: FlowState = { p: provider.id, state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier(), next, exp: clock.now().getTime() + FLOW_TTL_MS }
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: provider.scopes,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce
    })
    return { url: url.href, cookie: sealer.seal(JSON.stringify(flow)) }
  }

  /** The sealed cookie's state, when it is this provider's and not expired; else a SignInProblem. */
  function openFlow (cookie: string | undefined, providerId: number): FlowState {
    const opened = cookie === undefined ? null : sealer.open(cookie)
    let flow: FlowState | null = null
    try {
      flow = opened === null ? null : JSON.parse(opened) as FlowState
    } catch {
      flow = null
    }
    if (flow === null) throw new SignInProblem('This sign-in was not started in this browser, or it was already completed. Start again from the sign-in page.')
    if (flow.p !== providerId) throw new SignInProblem('This answer is from another identity provider than the one this sign-in was started with. Start again from the sign-in page.')
    if (flow.exp <= clock.now().getTime()) throw new SignInProblem('This sign-in took longer than 10 minutes. Start again from the sign-in page.')
    return flow
  }

  /** Each state completes one sign-in: a callback replayed (even with its cookie) is refused. */
  async function spend (flow: FlowState): Promise<void> {
    const now = isoNow(clock)
    await db('sign_in_states').where('expires_at', '<=', now).del()
    const inserted = await db('sign_in_states').insert({ state_hash: createHash('sha256').update(flow.state).digest('hex'), expires_at: new Date(flow.exp).toISOString() })
      .onConflict('state_hash').ignore().returning('state_hash')
    if (inserted.length === 0) throw new SignInProblem('This sign-in was already completed. Start again from the sign-in page.')
  }

  /**
   * Completes a sign-in from the provider's redirect: the browser's state, then the code exchange
   * and the ID token's checks (signature from the provider's keys, iss, aud, exp, nonce, the `iss`
   * response parameter when the provider sends one). Any failure is a SignInProblem.
   */
  async function finish (provider: ProviderForSignIn, callbackUrl: URL, cookie: string | undefined): Promise<{ claims: ProviderClaims, idTokenHint: string, next: string }> {
    const flow = openFlow(cookie, provider.id)
    const error = callbackUrl.searchParams.get('error')
    if (error !== null) {
      await spend(flow)
      const description = callbackUrl.searchParams.get('error_description')
      throw new SignInProblem(`${provider.name} did not sign you in (${error.slice(0, 100)}${description !== null ? `: ${description.slice(0, 200)}` : ''}).`)
    }
    await spend(flow)
    const client = await openid()
    const config = await configuration(provider)
    let tokens: Tokens
    try {
      tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true })
    } catch (err) {
      throw new SignInProblem(`The answer from ${provider.name} could not be accepted: ${reasonOf(err)}.`)
    }
    const claims = tokens.claims()
    if (claims === undefined || tokens.id_token === undefined) throw new SignInProblem(`${provider.name} sent no ID token.`)
    // Some providers (oidc-provider's defaults among them) put the email only in the userinfo
    // answer: asked for then, for the ID token's subject; the ID token's own claims win.
    if (claims.email === undefined && config.serverMetadata().userinfo_endpoint !== undefined) {
      try {
        const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
        return { claims: { ...info, ...claims } as ProviderClaims, idTokenHint: sealer.seal(tokens.id_token), next: flow.next }
      } catch (err) {
        throw new SignInProblem(`${provider.name}'s userinfo answer could not be accepted: ${reasonOf(err)}.`)
      }
    }
    // The ID token is kept (sealed: it names the person) only as the hint for signing out there.
    return { claims: claims as ProviderClaims, idTokenHint: sealer.seal(tokens.id_token), next: flow.next }
  }

  /** Where to send a browser to end its session at the provider, when the provider offers it. */
  async function endSessionUrl (provider: ProviderForSignIn, idTokenHint: string, postLogoutRedirectUri: string): Promise<string | null> {
    const client = await openid()
    let config: Configuration
    try {
      config = await configuration(provider)
    } catch {
      return null
    }
    if (config.serverMetadata().end_session_endpoint === undefined) return null
    // state: the provider sends it back, so the sign-in page says "signed out" rather than sending the browser off again.
    const idToken = sealer.open(idTokenHint)
    return client.buildEndSessionUrl(config, { ...(idToken === null ? { client_id: provider.clientId } : { id_token_hint: idToken }), post_logout_redirect_uri: postLogoutRedirectUri, state: 'signed-out' }).href
  }

  return { check, start, finish, endSessionUrl }
}

export type Oidc = ReturnType<typeof createOidc>
