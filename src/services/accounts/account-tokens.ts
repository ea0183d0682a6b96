import type { Knex } from 'knex'
import { isoNow, type Clock } from '../kernel/clock'
import { DomainError, NotFound } from '../kernel/errors'
import { hashToken, looksLikeToken, newToken } from '../kernel/random-tokens'
import { findAccount, type Account, type AccountState } from './account-store'

export type TokenPurpose = 'invitation' | 'signup-confirmation' | 'password-reset' | 'email-change'

export class Expired extends DomainError {
  constructor (message: string) {
    super(410, message)
  }
}

export interface TokenRow {
  id: number
  developer_id: number
  purpose: TokenPurpose
  token_hash: string
  created_by: number | null
  created_at: string
  expires_at: string
  used_at: string | null
  ended_at: string | null
  new_email: string | null
}

export interface IssueOptions {
  ttlMs: number
  createdBy?: number | null
  newEmail?: string | null
}

export interface TokenMessages {
  notFound: string
  expired: string
}

/**
 * Single-use links (invitation, sign-up confirmation, password reset, email change): 32 random
 * bytes in the link, only the SHA-256 stored, older links of the same kind ended on issue, spent by
 * one conditional UPDATE.
 */
export function createAccountTokens (clock: Clock) {
  /** Ends the account's open links of this kind and issues a new one; returns the token for the email. */
  async function issueToken (trx: Knex.Transaction, developerId: number, purpose: TokenPurpose, options: IssueOptions): Promise<{ token: string, expiresAt: string }> {
    await endTokens(trx, developerId, purpose)
    return (await issueFirstTokens(trx, [developerId], purpose, options))[0]
  }

  /** A link of this kind for each of these new accounts (which have none to end yet), in few statements. */
  async function issueFirstTokens (trx: Knex.Transaction, developerIds: number[], purpose: TokenPurpose, options: IssueOptions): Promise<Array<{ token: string, expiresAt: string }>> {
    const now = isoNow(clock)
    const expiresAt = new Date(clock.now().getTime() + options.ttlMs).toISOString()
    const issued = developerIds.map(() => newToken())
    for (let i = 0; i < developerIds.length; i += 500) {
      await trx('invitation_tokens').insert(developerIds.slice(i, i + 500).map((developerId, j) => ({
        developer_id: developerId, purpose, token_hash: issued[i + j].hash, created_by: options.createdBy ?? null, created_at: now, expires_at: expiresAt, new_email: options.newEmail ?? null
      })))
    }
    return issued.map(({ token }) => ({ token, expiresAt }))
  }

  async function endTokens (trx: Knex.Transaction, developerId: number, purpose: TokenPurpose): Promise<void> {
    await trx('invitation_tokens').where({ developer_id: developerId, purpose }).whereNull('used_at').whereNull('ended_at').update({ ended_at: isoNow(clock) })
  }

  /** The open link behind a token: NotFound when unknown, used or ended; Expired (410) when too old. */
  async function findToken (trx: Knex | Knex.Transaction, token: string, purpose: TokenPurpose, messages: TokenMessages): Promise<TokenRow> {
    if (!looksLikeToken(token)) throw new NotFound(messages.notFound)
    const row: TokenRow | undefined = await trx('invitation_tokens').where({ token_hash: hashToken(token), purpose }).first()
    if (row === undefined || row.used_at !== null || row.ended_at !== null) throw new NotFound(messages.notFound)
    if (row.expires_at <= isoNow(clock)) throw new Expired(messages.expired)
    return row
  }

  /** The open link and its account, which must be in `state` (else the link is as good as gone). */
  async function findTokenAccount (trx: Knex | Knex.Transaction, token: string, purpose: TokenPurpose, state: AccountState, messages: TokenMessages): Promise<{ row: TokenRow, account: Account }> {
    const row = await findToken(trx, token, purpose, messages)
    return { row, account: await findAccount(trx, row.developer_id, state, messages.notFound) }
  }

  /** Spends a link in one conditional UPDATE: of two simultaneous uses, exactly one gets the row. */
  async function spendToken (trx: Knex.Transaction, token: string, purpose: TokenPurpose, messages: TokenMessages): Promise<TokenRow> {
    const row = await findToken(trx, token, purpose, messages)
    const now = isoNow(clock)
    const spent = await trx('invitation_tokens').where('id', row.id).whereNull('used_at').whereNull('ended_at').where('expires_at', '>', now).update({ used_at: now })
    if (spent !== 1) throw new NotFound(messages.notFound)
    return { ...row, used_at: now }
  }

  return { issueToken, issueFirstTokens, endTokens, findToken, findTokenAccount, spendToken }
}

export type AccountTokens = ReturnType<typeof createAccountTokens>
