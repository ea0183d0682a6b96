import type { Knex } from 'knex'
import type { Actor, EventAction, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { Conflict, Forbidden, Invalid, NotFound, Refused, throwIfInvalid, type FieldErrors } from '../kernel/errors'
import { canonicalText, identifierKey, nameProblem } from '../kernel/text-rules'
import { hashToken, looksLikeToken, newToken } from '../kernel/random-tokens'
import { isPostgres, isUniqueViolation } from '../../db/knex'
import { likePattern, pageOf, type Page } from '../../db/paging'
import { emailProblem } from '../accounts/account-rules'
import { displayName, findStoredAccount, normalizeEmail, type Account } from '../accounts/account-store'
import { Expired } from '../accounts/account-tokens'
import type { Outbox } from '../mail/outbox'
import type { Invitations } from '../onboarding/invitations'
import { formatDate } from '../../format'
import { LIVE_STATES } from '../subscriptions/subscription-states'

export const ORGANISATION_NAME_MAX = 100
export const ORGANISATION_DESCRIPTION_MAX = 1000
export const ORGANISATIONS_PAGE_SIZE = 25

export type OrganisationRole = 'owner' | 'member'
export const ROLES: readonly OrganisationRole[] = ['owner', 'member']

export interface Organisation {
  id: number
  name: string
  description: string
  state: 'active' | 'blocked'
  createdAt: string
  updatedAt: string
  memberCount: number
}

export interface Member {
  id: number
  email: string
  firstName: string
  lastName: string
  state: string
  role: OrganisationRole
  joinedAt: string
}

export interface PendingJoin {
  id: number
  email: string
  invitedBy: string | null
  createdAt: string
  expiresAt: string
}

export interface OrganisationInput { name: string, description: string }

interface OrganisationRow { id: number, name: string, description: string, state: 'active' | 'blocked', created_at: string, updated_at: string, member_count?: number | string }

function toOrganisation (row: OrganisationRow): Organisation {
  return { id: row.id, name: row.name, description: row.description, state: row.state, createdAt: row.created_at, updatedAt: row.updated_at, memberCount: Number(row.member_count ?? 0) }
}

const LAST_OWNER = 'An organisation always has an owner: make another member an owner first.'
const NOT_FOUND = 'There is no organisation with this id, or you are not one of its members.'

export interface OrganisationsDeps {
  db: Knex
  clock: Clock
  events: Events
  outbox: Outbox
  invitations: Invitations
  publicUrl: string
  /** How long a link to join is valid (INVITATION_TTL_HOURS, as Portico's own invitations). */
  ttlHours: number
  /** The setting `developersCreateOrganisations`. */
  developersMayCreate: () => Promise<boolean>
}

/**
 * Organisations: teams with owners and members. Joining, leaving, role changes, blocking and
 * deleting are domain events (the audit log hears them all; the gateway hears blocking, since an
 * organisation's keys follow its state). The last owner can neither leave, be removed, nor lose
 * the role, whatever number of requests arrive at once: each such change locks the organisation's
 * row (PostgreSQL) or runs alone (SQLite's one writer) before it counts the owners.
 */
export function createOrganisations ({ db, clock, events, outbox, invitations, publicUrl, ttlHours, developersMayCreate }: OrganisationsDeps) {
  const record = async (trx: Knex.Transaction, actor: Actor, action: EventAction, organisation: { id: number, name: string }, details?: Record<string, unknown>): Promise<void> => {
    await events.record(trx, { actor, action, target: { type: 'organisation', id: organisation.id, label: organisation.name }, details })
  }

  function withCounts (q: Knex | Knex.Transaction): Knex.QueryBuilder {
    return q('organisations').select('organisations.*', q('organisation_members').count('*').where('organisation_members.organisation_id', q.ref('organisations.id')).as('member_count'))
  }

  async function find (q: Knex | Knex.Transaction, id: number, message = 'There is no organisation with this id.'): Promise<Organisation> {
    const row: OrganisationRow | undefined = await withCounts(q).where('organisations.id', id).first()
    if (row === undefined) throw new NotFound(message)
    return toOrganisation(row)
  }

  /** Locks the organisation's row for the rest of the transaction (PostgreSQL; SQLite runs one writer at a time). */
  async function lock (trx: Knex.Transaction, id: number): Promise<Organisation> {
    if (isPostgres(trx)) await trx('organisations').where('id', id).forUpdate().first('id')
    return await find(trx, id)
  }

  async function roleOf (q: Knex | Knex.Transaction, organisationId: number, accountId: number): Promise<OrganisationRole | null> {
    const row: { role: OrganisationRole } | undefined = await q('organisation_members').where({ organisation_id: organisationId, developer_id: accountId }).first('role')
    return row?.role ?? null
  }

  /** The organisation, for one of its members; NotFound for anyone else (its id tells them nothing). */
  async function forMember (q: Knex | Knex.Transaction, organisationId: number, accountId: number): Promise<{ organisation: Organisation, role: OrganisationRole }> {
    const role = await roleOf(q, organisationId, accountId)
    if (role === null) throw new NotFound(NOT_FOUND)
    return { organisation: await find(q, organisationId, NOT_FOUND), role }
  }

  async function forOwner (q: Knex | Knex.Transaction, organisationId: number, accountId: number): Promise<Organisation> {
    const { organisation, role } = await forMember(q, organisationId, accountId)
    if (role !== 'owner') throw new Forbidden('Only the owners of this organisation can do this.')
    return organisation
  }

  async function keepAnOwner (trx: Knex.Transaction, organisationId: number, losing: number): Promise<void> {
    const others = await trx('organisation_members').where({ organisation_id: organisationId, role: 'owner' }).whereNot('developer_id', losing).count({ n: '*' }).first()
    if (Number(others?.n ?? 0) === 0) throw new Refused(LAST_OWNER)
  }

  function inputErrors (input: OrganisationInput): FieldErrors {
    const errors: FieldErrors = {}
    const name = nameProblem('organisation name', input.name, ORGANISATION_NAME_MAX)
    if (name !== null) errors.name = name
    if ([...input.description].length > ORGANISATION_DESCRIPTION_MAX) errors.description = `The description can be at most ${ORGANISATION_DESCRIPTION_MAX} characters.`
    return errors
  }

  const TAKEN_NAME = 'An organisation with this name already exists.'

  /** A new organisation; its creator is its first owner (an administrator's may have none yet: `ownerId` null). */
  async function createIn (trx: Knex.Transaction, input: OrganisationInput, ownerId: number | null, actor: Actor): Promise<Organisation> {
    throwIfInvalid(inputErrors(input))
    const now = isoNow(clock)
    let row: OrganisationRow
    try {
      ;[row] = await trx('organisations').insert({ name: canonicalText(input.name), name_normalized: identifierKey(input.name), description: canonicalText(input.description), state: 'active', created_at: now, updated_at: now }).returning('*') as OrganisationRow[]
    } catch (err) {
      if (isUniqueViolation(err)) throw new Conflict('name', TAKEN_NAME)
      throw err
    }
    if (ownerId !== null) await trx('organisation_members').insert({ organisation_id: row.id, developer_id: ownerId, role: 'owner', created_at: now })
    await record(trx, actor, 'organisation.created', row, { ownerId })
    return { ...toOrganisation(row), memberCount: ownerId === null ? 0 : 1 }
  }

  /** A developer creates one (when the setting allows; an administrator always may): they are its owner. */
  async function createOrganisation (creator: Account & { isAdmin?: boolean }, input: OrganisationInput, actor: Actor): Promise<Organisation> {
    if (creator.isAdmin !== true && !(await developersMayCreate())) throw new Forbidden('Organisations are created by the portal\'s administrators. Ask them for one.')
    return await db.transaction(async (trx) => await createIn(trx, input, creator.id, actor))
  }

  /** The organisations an account belongs to, with its role in each. */
  async function listMine (accountId: number): Promise<Array<Organisation & { role: OrganisationRole }>> {
    const rows: Array<OrganisationRow & { role: OrganisationRole }> = await withCounts(db)
      .join('organisation_members as mine', 'mine.organisation_id', 'organisations.id')
      .where('mine.developer_id', accountId)
      .select('mine.role')
      .orderBy('organisations.name_normalized')
    return rows.map((row) => ({ ...toOrganisation(row), role: row.role }))
  }

  async function members (q: Knex | Knex.Transaction, organisationId: number): Promise<Member[]> {
    const rows = await q('organisation_members').join('developers', 'developers.id', 'organisation_members.developer_id')
      .where('organisation_members.organisation_id', organisationId)
      .orderByRaw("case organisation_members.role when 'owner' then 0 else 1 end").orderBy('developers.name_normalized')
      .select('developers.id', 'developers.email', 'developers.first_name', 'developers.last_name', 'developers.state', 'organisation_members.role', 'organisation_members.created_at')
    return rows.map((r) => ({ id: r.id, email: r.email, firstName: r.first_name, lastName: r.last_name, state: r.state, role: r.role, joinedAt: r.created_at }))
  }

  async function pendingJoins (q: Knex | Knex.Transaction, organisationId: number): Promise<PendingJoin[]> {
    const rows = await q('organisation_invitations').leftJoin('developers as inviter', 'inviter.id', 'organisation_invitations.invited_by')
      .where('organisation_invitations.organisation_id', organisationId).whereNull('organisation_invitations.used_at').whereNull('organisation_invitations.ended_at')
      .where('organisation_invitations.expires_at', '>', isoNow(clock))
      .orderBy('organisation_invitations.created_at', 'desc')
      .select('organisation_invitations.id', 'organisation_invitations.email', 'organisation_invitations.created_at', 'organisation_invitations.expires_at', 'inviter.email as inviter')
    return rows.map((r) => ({ id: r.id, email: r.email, invitedBy: r.inviter ?? null, createdAt: r.created_at, expiresAt: r.expires_at }))
  }

  /** The organisation's page, for a member: its members and, for everyone there, the pending invitations. */
  async function getForMember (organisationId: number, accountId: number): Promise<{ organisation: Organisation, role: OrganisationRole, members: Member[], pending: PendingJoin[] }> {
    const { organisation, role } = await forMember(db, organisationId, accountId)
    return { organisation, role, members: await members(db, organisationId), pending: await pendingJoins(db, organisationId) }
  }

  async function update (id: number, input: OrganisationInput, actor: Actor, ownerId: number | null): Promise<Organisation> {
    throwIfInvalid(inputErrors(input))
    return await db.transaction(async (trx) => {
      const before = ownerId === null ? await find(trx, id) : await forOwner(trx, id, ownerId)
      try {
        await trx('organisations').where('id', id).update({ name: canonicalText(input.name), name_normalized: identifierKey(input.name), description: canonicalText(input.description), updated_at: isoNow(clock) })
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict('name', TAKEN_NAME)
        throw err
      }
      const after = await find(trx, id)
      await record(trx, actor, 'organisation.edited', after, { before: before.name })
      return after
    })
  }

  /**
   * Invites someone by email. An active account is mailed a link to join (`organisation-invitation`);
   * an address without an account gets a Portico invitation (names from the address, changed later
   * in their profile) and joins when they accept it. The answer is the same either way.
   */
  async function invite (organisationId: number, inviter: Account, email: string, actor: Actor): Promise<void> {
    const problem = emailProblem(email)
    if (problem !== null) throw new Invalid({ email: problem })
    await db.transaction(async (trx) => {
      const organisation = await forOwner(trx, organisationId, inviter.id)
      if (organisation.state !== 'active') throw new Refused('This organisation is blocked: it cannot invite anyone.')
      const existing = await findStoredAccount(trx, { email })
      if (existing !== undefined && await roleOf(trx, organisationId, existing.id) !== null) throw new Refused(`${existing.email} is already a member.`)
      const now = isoNow(clock)
      const expiresAt = new Date(clock.now().getTime() + ttlHours * 3_600_000).toISOString()
      let account = existing
      let token: string | null = null
      if (existing === undefined || existing.state === 'pending') {
        const local = email.trim().slice(0, email.trim().lastIndexOf('@'))
        const outcome = await invitations.inviteIn(trx, { email: email.trim(), firstName: [...local].slice(0, 100).join(''), lastName: '-' }, actor, 'resend')
        account = { ...outcome.account, passwordHash: null }
      } else if (existing.state === 'active') {
        const issued = newToken()
        token = issued.token
        await trx('organisation_invitations').where({ organisation_id: organisationId, developer_id: existing.id }).whereNull('used_at').whereNull('ended_at').update({ ended_at: now })
        await trx('organisation_invitations').insert({ organisation_id: organisationId, email: existing.email, email_normalized: normalizeEmail(existing.email), developer_id: existing.id, invited_by: inviter.id, token_hash: issued.hash, created_at: now, expires_at: expiresAt })
        await outbox.queueRequiredEmail(trx, 'organisation-invitation', existing, {
          OrgName: organisation.name, InviterName: displayName(inviter), ConfirmUrl: `${publicUrl}/organisations/join/${token}`, ExpiresAt: formatDate(expiresAt)
        })
      }
      if (account === undefined || account.state === 'blocked') {
        // A blocked account is not told anything, and the inviter hears what they always hear.
        await record(trx, actor, 'organisation.invited', organisation, { email: email.trim(), outcome: 'not sent: account blocked' })
        return
      }
      if (token === null) {
        await trx('organisation_invitations').where({ organisation_id: organisationId, developer_id: account.id }).whereNull('used_at').whereNull('ended_at').update({ ended_at: now })
        await trx('organisation_invitations').insert({ organisation_id: organisationId, email: account.email, email_normalized: normalizeEmail(account.email), developer_id: account.id, invited_by: inviter.id, token_hash: null, created_at: now, expires_at: expiresAt })
      }
      await record(trx, actor, 'organisation.invited', organisation, { email: account.email, developerId: account.id })
    })
  }

  async function join (trx: Knex.Transaction, organisationId: number, accountId: number, actor: Actor): Promise<boolean> {
    const inserted = await trx('organisation_members').insert({ organisation_id: organisationId, developer_id: accountId, role: 'member', created_at: isoNow(clock) })
      .onConflict(['organisation_id', 'developer_id']).ignore().returning('developer_id')
    if (inserted.length === 0) return false
    const organisation = await find(trx, organisationId)
    await record(trx, actor, 'organisation.member-joined', organisation, { developerId: accountId })
    return true
  }

  /** The link to join: NotFound when unknown, used or ended; Expired (410) when too old. */
  async function findJoinLink (q: Knex | Knex.Transaction, token: string): Promise<{ id: number, organisation_id: number, developer_id: number, email: string, expires_at: string }> {
    const gone = 'This link to join an organisation has been used or replaced. Ask the organisation\'s owner for a new one.'
    if (!looksLikeToken(token)) throw new NotFound(gone)
    const row = await q('organisation_invitations').where('token_hash', hashToken(token)).whereNull('used_at').whereNull('ended_at').first()
    if (row === undefined) throw new NotFound(gone)
    if (row.expires_at <= isoNow(clock)) throw new Expired('This link to join an organisation has expired. Ask the organisation\'s owner for a new one.')
    return row
  }

  /** What the join page shows: the organisation, and whether the signed-in account is the one invited. */
  async function findJoin (token: string, accountId: number | null): Promise<{ organisation: Organisation, email: string, forThisAccount: boolean }> {
    const row = await findJoinLink(db, token)
    return { organisation: await find(db, row.organisation_id), email: row.email, forThisAccount: row.developer_id === accountId }
  }

  /** Joins through the link: the invited account only, once (a conditional update spends the link). */
  async function acceptJoin (token: string, account: Account, actor: Actor): Promise<Organisation> {
    return await db.transaction(async (trx) => {
      const row = await findJoinLink(trx, token)
      if (row.developer_id !== account.id) throw new Forbidden(`This invitation is for ${row.email}. Sign in with that account to join.`)
      const spent = await trx('organisation_invitations').where('id', row.id).whereNull('used_at').whereNull('ended_at').update({ used_at: isoNow(clock) })
      if (spent === 0) throw new NotFound('This link to join an organisation has been used or replaced.')
      const organisation = await find(trx, row.organisation_id)
      if (organisation.state !== 'active') throw new Refused('This organisation is blocked: nobody can join it now.')
      await join(trx, organisation.id, account.id, actor)
      return organisation
    })
  }

  /**
   * A Portico invitation was accepted (by password or a provider): the organisations that invited
   * this address are joined in the same transaction. Subscribed to `invitation.accepted`.
   */
  async function joinOnAcceptance (trx: Knex | Knex.Transaction, accountId: number, actor: Actor): Promise<void> {
    const now = isoNow(clock)
    const rows: Array<{ id: number, organisation_id: number }> = await trx('organisation_invitations')
      .join('organisations', 'organisations.id', 'organisation_invitations.organisation_id')
      .where({ 'organisation_invitations.developer_id': accountId, 'organisations.state': 'active' }).whereNull('organisation_invitations.token_hash')
      .whereNull('organisation_invitations.used_at').whereNull('organisation_invitations.ended_at').where('organisation_invitations.expires_at', '>', now)
      .select('organisation_invitations.id', 'organisation_invitations.organisation_id')
    for (const row of rows) {
      await trx('organisation_invitations').where('id', row.id).update({ used_at: now })
      await join(trx as Knex.Transaction, row.organisation_id, accountId, actor)
    }
  }

  /** Removes a member (an owner's action, or leaving): never the last owner. */
  async function removeIn (trx: Knex.Transaction, organisationId: number, memberId: number, actor: Actor, action: 'organisation.member-left' | 'organisation.member-removed'): Promise<Organisation> {
    const organisation = await lock(trx, organisationId)
    const role = await roleOf(trx, organisationId, memberId)
    if (role === null) throw new NotFound('This developer is not a member of this organisation.')
    if (role === 'owner') await keepAnOwner(trx, organisationId, memberId)
    await trx('organisation_members').where({ organisation_id: organisationId, developer_id: memberId }).del()
    await record(trx, actor, action, organisation, { developerId: memberId })
    return organisation
  }

  async function removeMember (organisationId: number, ownerId: number | null, memberId: number, actor: Actor): Promise<Organisation> {
    return await db.transaction(async (trx) => {
      if (ownerId !== null) await forOwner(trx, organisationId, ownerId)
      return await removeIn(trx, organisationId, memberId, actor, 'organisation.member-removed')
    })
  }

  async function leave (organisationId: number, accountId: number, actor: Actor): Promise<Organisation> {
    return await db.transaction(async (trx) => {
      await forMember(trx, organisationId, accountId)
      return await removeIn(trx, organisationId, accountId, actor, 'organisation.member-left')
    })
  }

  /** Makes a member an owner or an owner a member: the last owner keeps the role. */
  async function changeRole (organisationId: number, ownerId: number | null, memberId: number, role: string, actor: Actor): Promise<Organisation> {
    if (!ROLES.includes(role as OrganisationRole)) throw new Refused('Choose owner or member.')
    return await db.transaction(async (trx) => {
      if (ownerId !== null) await forOwner(trx, organisationId, ownerId)
      const organisation = await lock(trx, organisationId)
      const current = await roleOf(trx, organisationId, memberId)
      if (current === null) throw new NotFound('This developer is not a member of this organisation.')
      if (current === role) return organisation
      if (current === 'owner') await keepAnOwner(trx, organisationId, memberId)
      await trx('organisation_members').where({ organisation_id: organisationId, developer_id: memberId }).update({ role })
      await record(trx, actor, 'organisation.role-changed', organisation, { developerId: memberId, role })
      return organisation
    })
  }

  // The publisher portal's side.

  async function list (query: { q?: string, page?: number }): Promise<Page<Organisation>> {
    const base = db('organisations')
    const q = (query.q ?? '').trim()
    if (q !== '') void base.whereRaw('organisations.name_normalized like ? escape ?', [likePattern(identifierKey(q)), '\\'])
    return await pageOf(base, query.page, ORGANISATIONS_PAGE_SIZE, async (page) => {
      const ids: number[] = await page.orderBy('organisations.name_normalized').orderBy('organisations.id').pluck('organisations.id')
      if (ids.length === 0) return []
      const rows: OrganisationRow[] = await withCounts(db).whereIn('organisations.id', ids).orderBy('organisations.name_normalized').orderBy('organisations.id')
      return rows.map(toOrganisation)
    })
  }

  async function getForAdmin (id: number): Promise<{ organisation: Organisation, members: Member[], pending: PendingJoin[] }> {
    return { organisation: await find(db, id), members: await members(db, id), pending: await pendingJoins(db, id) }
  }

  /** Blocking stops every one of its keys on the next call (the gateway hears the event); members keep their accounts. */
  async function setState (id: number, state: 'active' | 'blocked', actor: Actor): Promise<Organisation> {
    return await db.transaction(async (trx) => {
      const organisation = await lock(trx, id)
      if (organisation.state === state) return organisation
      await trx('organisations').where('id', id).update({ state, updated_at: isoNow(clock) })
      await record(trx, actor, state === 'blocked' ? 'organisation.blocked' : 'organisation.activated', organisation)
      return { ...organisation, state }
    })
  }

  /** Deleting cancels its subscriptions (their keys stop), then removes it and its memberships. */
  async function deleteOrganisation (id: number, actor: Actor): Promise<Organisation> {
    return await db.transaction(async (trx) => {
      const organisation = await lock(trx, id)
      const now = isoNow(clock)
      await trx('subscriptions').where('organisation_id', id).whereIn('state', LIVE_STATES).update({ state: 'cancelled', ended_at: now, updated_at: now })
      await trx('organisations').where('id', id).del()
      await record(trx, actor, 'organisation.deleted', organisation)
      return organisation
    })
  }

  async function createByAdmin (input: OrganisationInput, ownerEmail: string, actor: Actor): Promise<Organisation> {
    return await db.transaction(async (trx) => {
      let ownerId: number | null = null
      if (ownerEmail.trim() !== '') {
        const owner = await findStoredAccount(trx, { email: ownerEmail, state: 'active' })
        if (owner === undefined) throw new Invalid({ ownerEmail: 'There is no active account with this email.' })
        ownerId = owner.id
      }
      return await createIn(trx, input, ownerId, actor)
    })
  }

  /** An administrator adds an active account at once (the management API): 'added', or 'already a member' (its role then set as given). */
  async function addMember (organisationId: number, accountId: number, role: OrganisationRole, actor: Actor): Promise<'added' | 'already a member'> {
    return await db.transaction(async (trx) => {
      await lock(trx, organisationId)
      const account = await findStoredAccount(trx, { id: accountId })
      if (account === undefined) throw new NotFound('There is no account with this id.')
      if (account.state !== 'active') throw new Refused('Only an active account can join an organisation.')
      if (await join(trx, organisationId, accountId, actor)) {
        if (role === 'owner') await trx('organisation_members').where({ organisation_id: organisationId, developer_id: accountId }).update({ role })
        return 'added'
      }
      const current = await roleOf(trx, organisationId, accountId)
      if (current !== role) {
        if (current === 'owner') await keepAnOwner(trx, organisationId, accountId)
        await trx('organisation_members').where({ organisation_id: organisationId, developer_id: accountId }).update({ role })
        await record(trx, actor, 'organisation.role-changed', await find(trx, organisationId), { developerId: accountId, role })
      }
      return 'already a member'
    })
  }

  /** Every organisation's id and name, for filters (the first 500 by name). */
  async function names (): Promise<Array<{ id: number, name: string }>> {
    return await db('organisations').orderBy('name_normalized').limit(500).select('id', 'name')
  }

  /** The organisations an account owns (the subscribe form's choices). */
  async function ownedBy (accountId: number): Promise<Organisation[]> {
    return (await listMine(accountId)).filter((o) => o.role === 'owner' && o.state === 'active')
  }

  return {
    addMember, members: async (id: number) => { await find(db, id); return await members(db, id) }, get: async (id: number) => await find(db, id), names, createOrganisation, createByAdmin, listMine, ownedBy, getForMember, roleOf: async (organisationId: number, accountId: number) => await roleOf(db, organisationId, accountId),
    rename: async (id: number, ownerId: number, input: OrganisationInput, actor: Actor) => await update(id, input, actor, ownerId),
    edit: async (id: number, input: OrganisationInput, actor: Actor) => await update(id, input, actor, null),
    invite, findJoin, acceptJoin, joinOnAcceptance, removeMember, leave, changeRole, list, getForAdmin, setState, deleteOrganisation
  }
}

export type Organisations = ReturnType<typeof createOrganisations>
