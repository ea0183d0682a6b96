import type { Knex } from 'knex'
import type { Actor, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { DomainError } from '../kernel/errors'
import { identifierKey } from '../kernel/text-rules'
import type { Accounts } from '../accounts/accounts'
import type { Groups } from '../groups/groups'
import { NAME_MAX_LENGTH, newAccountErrors } from '../accounts/account-rules'
import { findStoredAccount, recordSignIn, type Account } from '../accounts/account-store'
import type { ProviderForSignIn } from './providers'
import { SignInProblem, type ProviderClaims } from './oidc'

/** The password sign-in's message for an account that may not sign in: a provider says no more. */
export const BLOCKED_MESSAGE = 'The email or password is not right, or this account cannot sign in.'
export const NO_ACCOUNT_MESSAGE = 'There is no account for this email. Ask for an invitation.'

export interface ProviderSignIn {
  account: Account
  /** What happened to the account: signed in as it was, activated (an invitation), or created. */
  outcome: 'signed-in' | 'activated' | 'created'
  /** Groups joined and left by the claim's mapping. */
  joined: string[]
  left: string[]
}

/** The claim's values (a list, or one string), as strings. */
function claimValues (claim: unknown): Set<string> {
  if (Array.isArray(claim)) return new Set(claim.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number').map(String))
  return typeof claim === 'string' || typeof claim === 'number' ? new Set([String(claim)]) : new Set()
}

const text = (value: unknown): string => typeof value === 'string' ? value.trim() : ''
const clip = (value: string): string => [...value].slice(0, NAME_MAX_LENGTH).join('').trim()

/** A new account's names from the claims: given and family names, else the full name split, else the email's local part. */
function namesOf (claims: ProviderClaims, email: string): { firstName: string, lastName: string } {
  const given = text(claims.given_name)
  const family = text(claims.family_name)
  if (given !== '' && family !== '') return { firstName: clip(given), lastName: clip(family) }
  const full = text(claims.name).split(/\s+/).filter((w) => w !== '')
  if (full.length >= 2) return { firstName: clip(full[0]), lastName: clip(full.slice(1).join(' ')) }
  const local = email.slice(0, email.lastIndexOf('@'))
  return { firstName: clip(given !== '' ? given : full[0] ?? local), lastName: clip(family !== '' ? family : '-') }
}

/**
 * What a verified provider identity does to Portico's accounts: an account linked to this
 * identity, or with its email, is signed in (activated when it was invited), a blocked one refused;
 * none is created (when the provider may) through the one verb that creates accounts, with Add
 * user's rules, audit and welcome email. Mapped groups are synced each time. All in one transaction.
 */
export function createProviderSignIn ({ db, clock, events, accounts, groups }: { db: Knex, clock: Clock, events: Events, accounts: Accounts, groups: Groups }) {
  async function refuse (provider: ProviderForSignIn, email: string, reason: string, message: string, ip: string | null, account?: Account): Promise<never> {
    await db.transaction(async (trx) => {
      await events.record(trx, {
        actor: { id: account?.id ?? null, label: email === '' ? `via ${provider.name}` : email, ip },
        action: 'developer.provider-sign-in-refused',
        target: account === undefined ? { type: 'identity-provider', id: provider.id, label: provider.name } : { type: 'developer', id: account.id, label: account.email },
        details: { provider: provider.name, reason }
      })
    })
    throw new SignInProblem(message, 403, true)
  }

  /** A callback that failed before any account was looked at (state, code, ID token): audited too. */
  async function recordFailure (provider: { id: number, name: string }, reason: string, ip: string | null): Promise<void> {
    await db.transaction(async (trx) => {
      await events.record(trx, {
        actor: { id: null, label: `via ${provider.name}`, ip },
        action: 'developer.provider-sign-in-refused',
        target: { type: 'identity-provider', id: provider.id, label: provider.name },
        details: { provider: provider.name, reason: reason.slice(0, 500) }
      })
    })
  }

  /** Adds and removes the mapped groups the claim says; the last active administrator is never removed. */
  async function syncGroups (trx: Knex.Transaction, provider: ProviderForSignIn, account: Account, claims: ProviderClaims, actor: Actor): Promise<{ joined: string[], left: string[] }> {
    const joined: string[] = []
    const left: string[] = []
    if (provider.groupsClaim === '' || provider.mappings.length === 0) return { joined, left }
    const values = claimValues(claims[provider.groupsClaim])
    const byName = new Map<string, number>()
    for (const row of await trx('groups').select('id', 'name')) byName.set(identifierKey(row.name), row.id)
    const memberOf = new Set<number>((await trx('developer_groups').where('developer_id', account.id).select('group_id')).map((r: { group_id: number }) => r.group_id))
    // A group wanted by any of its mapped values is kept; only groups no value asks for are left.
    const wanted = new Map<number, boolean>()
    for (const { value, groupName } of provider.mappings) {
      const id = byName.get(identifierKey(groupName))
      if (id !== undefined) wanted.set(id, (wanted.get(id) ?? false) || values.has(value))
    }
    for (const [groupId, want] of wanted) {
      if (want === memberOf.has(groupId)) continue
      const group = await groups.findGroupIn(trx, groupId)
      if (want) {
        if (await groups.addOne(trx, group, account, actor) === 'added') joined.push(group.name)
        continue
      }
      try {
        await trx.transaction(async (one) => { await groups.removeOne(one, group, account, actor) })
        left.push(group.name)
      } catch (err) {
        // The last active administrator stays one; anything else is a real failure.
        if (!(err instanceof DomainError) || err.statusCode >= 500) throw err
      }
    }
    return { joined, left }
  }

  async function link (trx: Knex.Transaction, provider: ProviderForSignIn, accountId: number, subject: string, now: string): Promise<void> {
    await trx('account_identities').insert({ provider_id: provider.id, developer_id: accountId, subject, created_at: now, last_sign_in_at: now })
      .onConflict(['provider_id', 'subject']).merge({ developer_id: accountId, last_sign_in_at: now })
  }

  async function signIn (provider: ProviderForSignIn, claims: ProviderClaims, ip: string | null): Promise<ProviderSignIn> {
    const email = text(claims.email)
    const subject = String(claims.sub).slice(0, 255)
    if (email === '') return await refuse(provider, '', 'no email', `${provider.name} did not share an email address for this account. Portico needs one.`, ip)
    if (claims.email_verified !== true && claims.email_verified !== 'true') {
      return await refuse(provider, email, 'email not verified', `${provider.name} has not verified the email address ${email}. Verify it there, then sign in again.`, ip)
    }
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase()
    if (provider.domains.length > 0 && !provider.domains.includes(domain)) {
      return await refuse(provider, email, 'domain not allowed', `Accounts of ${domain} cannot sign in with ${provider.name}.`, ip)
    }
    const linked: { developer_id: number } | undefined = await db('account_identities').where({ provider_id: provider.id, subject }).first('developer_id')
    const existing = linked !== undefined ? await findStoredAccount(db, { id: linked.developer_id }) : await findStoredAccount(db, { email })
    if (existing?.state === 'blocked') return await refuse(provider, email, 'account blocked', BLOCKED_MESSAGE, ip, existing)
    if (existing === undefined && !provider.createAccounts) return await refuse(provider, email, 'no account', NO_ACCOUNT_MESSAGE, ip)
    if (existing === undefined) {
      const problems = newAccountErrors({ ...namesOf(claims, email), email, password: '' }, { passwordRequired: false })
      if (Object.keys(problems).length > 0) return await refuse(provider, email, 'account rules', `An account cannot be made from what ${provider.name} shared: ${Object.values(problems).join(' ')}`, ip)
    }

    return await db.transaction(async (trx) => {
      const now = isoNow(clock)
      let account: Account
      let outcome: ProviderSignIn['outcome']
      if (existing === undefined) {
        const actor = { id: null, label: email, ip }
        ;[account] = await accounts.createActiveIn(trx, [{ input: { ...namesOf(claims, email), email }, groupIds: [], details: { provider: provider.name } }], { actor, actorIsAccount: true, mail: 'welcome' })
        await recordSignIn(trx, account.id, now)
        outcome = 'created'
      } else if (existing.state === 'pending') {
        const { passwordHash: _, ...pending } = existing
        account = await accounts.activatePendingIn(trx, pending, { signIn: true })
        await events.record(trx, { actor: { id: account.id, label: account.email, ip }, action: 'invitation.accepted', target: { type: 'developer', id: account.id, label: account.email }, details: { provider: provider.name } })
        outcome = 'activated'
      } else {
        const { passwordHash: _, ...active } = existing
        account = active
        await recordSignIn(trx, account.id, now)
        outcome = 'signed-in'
      }
      await link(trx, provider, account.id, subject, now)
      const actor = { id: account.id, label: account.email, ip }
      const { joined, left } = await syncGroups(trx, provider, account, claims, actor)
      await events.record(trx, { actor, action: 'developer.signed-in-with-provider', target: { type: 'developer', id: account.id, label: account.email }, details: { provider: provider.name, outcome, joined, left } })
      return { account, outcome, joined, left }
    })
  }

  return { signIn, recordFailure }
}

export type ProviderSignInService = ReturnType<typeof createProviderSignIn>
