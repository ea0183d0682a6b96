import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import type { Actor, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { NotFound, Refused, throwIfInvalid, type FieldErrors } from '../kernel/errors'
import { hashToken } from '../kernel/random-tokens'
import { nameProblem } from '../kernel/text-rules'
import { signedInWith } from '../accounts/account-store'
import type { SignedInAccount } from '../accounts/sign-in'

export const TOKEN_NAME_MAX = 100
export const TOKEN_DAYS_MAX = 3650
/** Every token starts so, which tells it apart from other secrets (and secret scanners can find it). */
export const TOKEN_PREFIX = 'ptk_'
const DAY_MS = 24 * 60 * 60 * 1000
/** The last-used time is written at most this often per token: not one write per call. */
const LAST_USED_EVERY_MS = 60_000

export interface ApiToken {
  id: number
  name: string
  /** The token's first characters, to tell tokens apart; never enough to use it. */
  tokenStart: string
  createdBy: { id: number, email: string }
  createdAt: string
  expiresAt: string
  lastUsedAt: string | null
  revokedAt: string | null
  /** active, expired or revoked (as of now). */
  status: 'active' | 'expired' | 'revoked'
}

export interface TokenInput {
  name: string
  expiresInDays: string
}

/** Why a Bearer token was not accepted: 401 (not a live token), or 403 (its administrator is one no longer). */
export type TokenCheck = { ok: true, tokenId: number, account: SignedInAccount } | { ok: false, status: 401 | 403, message: string }

interface TokenRow {
  id: number
  name: string
  token_start: string
  created_by: number
  creator_email: string
  created_at: string
  expires_at: string
  last_used_at: string | null
  revoked_at: string | null
}

export const TOKEN_MESSAGES = {
  missing: 'Send a management API token: Authorization: Bearer <token>. Administrators create tokens on /admin/api-tokens.',
  invalid: 'This token is not valid: it is unknown, revoked or expired, or its administrator account is blocked or deleted.',
  notAdmin: 'This token\'s account is no longer an administrator, so the token may not use the management API.'
}

export function createApiTokens ({ db, clock, events, defaultDays }: { db: Knex, clock: Clock, events: Events, defaultDays: number }) {
  function toToken (row: TokenRow, now: string): ApiToken {
    return {
      id: row.id,
      name: row.name,
      tokenStart: row.token_start,
      createdBy: { id: row.created_by, email: row.creator_email },
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      lastUsedAt: row.last_used_at,
      revokedAt: row.revoked_at,
      status: row.revoked_at !== null ? 'revoked' : row.expires_at <= now ? 'expired' : 'active'
    }
  }

  const withCreator = (q: Knex | Knex.Transaction): Knex.QueryBuilder => q('api_tokens')
    .join('developers', 'developers.id', 'api_tokens.created_by')
    .select('api_tokens.*', 'developers.email as creator_email')

  function inputErrors (input: TokenInput): { errors: FieldErrors, days: number } {
    const errors: FieldErrors = {}
    const name = nameProblem('token name', input.name, TOKEN_NAME_MAX)
    if (name !== null) errors.name = name
    const raw = input.expiresInDays.trim()
    const days = raw === '' ? defaultDays : /^\d{1,5}$/.test(raw) ? Number(raw) : NaN
    if (!(days >= 1 && days <= TOKEN_DAYS_MAX)) errors.expiresInDays = `Enter a number of days from 1 to ${TOKEN_DAYS_MAX}, or leave it blank for ${defaultDays}.`
    return { errors, days }
  }

  /** A new token: the secret is returned once, here; only its SHA-256 is kept. */
  async function createToken (input: TokenInput, actor: Actor & { id: number }): Promise<{ token: string, apiToken: ApiToken }> {
    const { errors, days } = inputErrors(input)
    throwIfInvalid(errors)
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
    const now = clock.now()
    return await db.transaction(async (trx) => {
      const [row] = await trx('api_tokens').insert({
        name: input.name.trim(),
        token_hash: hashToken(token),
        token_start: token.slice(0, TOKEN_PREFIX.length + 4),
        created_by: actor.id,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + days * DAY_MS).toISOString()
      }).returning('id')
      const id: number = typeof row === 'object' ? row.id : row
      const apiToken = toToken(await withCreator(trx).where('api_tokens.id', id).first() as TokenRow, isoNow(clock))
      await events.record(trx, { actor, action: 'api-token.created', target: { type: 'api-token', id, label: apiToken.name }, details: { expiresAt: apiToken.expiresAt } })
      return { token, apiToken }
    })
  }

  async function listTokens (): Promise<ApiToken[]> {
    const rows: TokenRow[] = await withCreator(db).orderBy('api_tokens.id', 'desc')
    const now = isoNow(clock)
    return rows.map((row) => toToken(row, now))
  }

  async function revokeToken (id: number, actor: Actor): Promise<ApiToken> {
    return await db.transaction(async (trx) => {
      const row: TokenRow | undefined = await withCreator(trx).where('api_tokens.id', id).first()
      if (row === undefined) throw new NotFound('There is no API token with this id.')
      const now = isoNow(clock)
      const changed = await trx('api_tokens').where('id', id).whereNull('revoked_at').update({ revoked_at: now })
      if (changed === 0) throw new Refused('This token was already revoked.')
      await events.record(trx, { actor, action: 'api-token.revoked', target: { type: 'api-token', id, label: row.name } })
      return toToken({ ...row, revoked_at: now }, now)
    })
  }

  /**
   * The account behind a Bearer token, reloaded on every call with the same columns as a session's:
   * a blocked or deleted administrator's token stops at once (401), one who left Administrators gets 403.
   */
  async function authenticate (token: string | undefined): Promise<TokenCheck> {
    if (token === undefined || token === '') return { ok: false, status: 401, message: TOKEN_MESSAGES.missing }
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return { ok: false, status: 401, message: TOKEN_MESSAGES.invalid }
    const query = db('api_tokens').where('api_tokens.token_hash', hashToken(token))
      .select('api_tokens.id as token_id', 'api_tokens.expires_at', 'api_tokens.revoked_at', 'api_tokens.last_used_at')
    const row = await signedInWith.attach(query, 'api_tokens.created_by').first() as
      (Record<string, unknown> & { token_id: number, expires_at: string, revoked_at: string | null, last_used_at: string | null }) | undefined
    const now = clock.now()
    if (row === undefined || row.revoked_at !== null || row.expires_at <= now.toISOString()) return { ok: false, status: 401, message: TOKEN_MESSAGES.invalid }
    const account = signedInWith.fromRow(row)
    if (account === null) return { ok: false, status: 401, message: TOKEN_MESSAGES.invalid }
    if (!account.isAdmin) return { ok: false, status: 403, message: TOKEN_MESSAGES.notAdmin }
    if (row.last_used_at === null || Date.parse(row.last_used_at) <= now.getTime() - LAST_USED_EVERY_MS) {
      await db('api_tokens').where('id', row.token_id).update({ last_used_at: now.toISOString() })
    }
    return { ok: true, tokenId: row.token_id, account }
  }

  return { createToken, listTokens, revokeToken, authenticate, defaultDays }
}

export type ApiTokens = ReturnType<typeof createApiTokens>
