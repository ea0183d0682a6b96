import type { Knex } from 'knex'
import type { Actor, EventAction, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { Conflict, Invalid, NotFound, Refused, throwIfInvalid, type FieldErrors } from '../kernel/errors'
import { ACCOUNT_COLUMNS, findAccount, findStoredAccount, toAccount, type Account } from '../accounts/account-store'
import { keepAnActiveAdministrator } from '../accounts/administrators'
import { likePattern, pageOf, type Page } from '../../db/paging'
import { GUESTS_TAKE_NO_MEMBERS, groupsOf, listGroupSummaries, takesMembers, type GroupSummary, type SystemGroupKey } from './group-lookups'
import { emailProblem } from '../accounts/account-rules'
import { isUniqueViolation } from '../../db/knex'
import { canonicalText, identifierKey, nameProblem } from '../kernel/text-rules'

export const GROUP_NAME_MAX = 100
export const GROUP_DESCRIPTION_MAX = 1000
export const MEMBERS_PAGE_SIZE = 25
/** At most this many lines in one "add many" form. */
export const BULK_MAX = 500

export interface Group {
  id: number
  name: string
  description: string
  systemKey: SystemGroupKey | null
  createdAt: string
  memberCount: number
  takesMembers: boolean
}

export interface GroupInput {
  name: string
  description: string
}

export type MemberResult = 'added' | 'already a member' | 'no such account' | 'pending invitation' | 'not an email address'

interface GroupRow {
  id: number
  name: string
  description: string
  system_key: SystemGroupKey | null
  created_at: string
  member_count?: number | string
}

function toGroup (row: GroupRow): Group {
  return { id: row.id, name: row.name, description: row.description, systemKey: row.system_key, createdAt: row.created_at, memberCount: Number(row.member_count ?? 0), takesMembers: takesMembers({ systemKey: row.system_key }) }
}

const EVERYONE_IN_DEVELOPERS = 'Every account is in Developers: it holds everyone who can sign in to the portal. Block an account to stop its access.'

/** The rule for a group's name (null when it passes): the Groups page's and a CSV import's. */
export function groupNameProblem (name: string): string | null {
  return nameProblem('group name', name, GROUP_NAME_MAX)
}

function groupErrors (input: GroupInput): FieldErrors {
  const errors: FieldErrors = {}
  const name = groupNameProblem(input.name)
  if (name !== null) errors.name = name
  if ([...input.description].length > GROUP_DESCRIPTION_MAX) errors.description = `The description can be at most ${GROUP_DESCRIPTION_MAX} characters.`
  return errors
}

/** A group's columns as kept: its name in NFC and its comparison key (look-alikes are the same name). */
function groupColumns (input: GroupInput): { name: string, name_normalized: string, description: string } {
  return { name: canonicalText(input.name), name_normalized: identifierKey(input.name), description: canonicalText(input.description) }
}

export function createGroups ({ db, clock, events }: { db: Knex, clock: Clock, events: Events }) {
  const audit = (trx: Knex.Transaction, actor: Actor, action: EventAction, group: { id: number, name: string }, details?: Record<string, unknown>) =>
    events.record(trx, { actor, action, target: { type: 'group', id: group.id, label: group.name }, details })

  async function findGroup (trx: Knex | Knex.Transaction, id: number): Promise<Group> {
    const row: GroupRow | undefined = await trx('groups').where('id', id).first()
    if (row === undefined) throw new NotFound('There is no group with this id.', 'group')
    const counted = await trx('developer_groups').where('group_id', id).count({ n: '*' }).first()
    return toGroup({ ...row, member_count: counted?.n ?? 0 })
  }

  async function listGroups (): Promise<Group[]> {
    const rows: GroupRow[] = await db('groups')
      .leftJoin('developer_groups', 'developer_groups.group_id', 'groups.id')
      .groupBy('groups.id', 'groups.name', 'groups.description', 'groups.system_key', 'groups.created_at', 'groups.name_normalized')
      .orderByRaw('case when groups.system_key is null then 1 else 0 end')
      .orderBy('groups.name_normalized')
      .select('groups.id', 'groups.name', 'groups.description', 'groups.system_key', 'groups.created_at')
      .count({ member_count: 'developer_groups.developer_id' })
    return rows.map(toGroup)
  }

  async function checkName (trx: Knex.Transaction, name: string, exceptId: number | null): Promise<void> {
    const clash = await trx('groups').where('name_normalized', identifierKey(name)).modify((q) => { if (exceptId !== null) void q.whereNot('id', exceptId) }).first('id')
    if (clash !== undefined) throw new Conflict('name', 'A group with this name already exists.')
  }

  /**
   * Creates groups in the caller's transaction (the Groups page, a CSV import): each name checked
   * against the others (look-alikes are the same name), each recorded as `group.created`.
   */
  async function createIn (trx: Knex.Transaction, inputs: GroupInput[], actor: Actor, details?: Record<string, unknown>): Promise<Group[]> {
    const created: Group[] = []
    for (const input of inputs) {
      await checkName(trx, input.name, null)
      const [row] = await trx('groups').insert({ ...groupColumns(input), created_at: isoNow(clock) }).returning(['id', 'name', 'description', 'system_key', 'created_at']).catch((err: unknown) => {
        throw isUniqueViolation(err) ? new Conflict('name', 'A group with this name already exists.') : err
      })
      const group = toGroup(row as GroupRow)
      await audit(trx, actor, 'group.created', group, details)
      created.push(group)
    }
    return created
  }

  async function createGroup (input: GroupInput, actor: Actor): Promise<Group> {
    const errors = groupErrors(input)
    throwIfInvalid(errors)
    return await db.transaction(async (trx) => (await createIn(trx, [input], actor))[0])
  }

  async function updateGroup (id: number, input: GroupInput, actor: Actor): Promise<Group> {
    const errors = groupErrors(input)
    throwIfInvalid(errors)
    return await db.transaction(async (trx) => {
      const group = await findGroup(trx, id)
      if (group.systemKey !== null) throw new Refused(`${group.name} is a system group: it cannot be renamed or changed.`)
      await checkName(trx, input.name, id)
      const columns = groupColumns(input)
      await trx('groups').where('id', id).update(columns)
        .catch((err: unknown) => { throw isUniqueViolation(err) ? new Conflict('name', 'A group with this name already exists.') : err })
      const updated = { ...group, name: columns.name, description: columns.description }
      await audit(trx, actor, 'group.edited', updated, { from: group.name })
      return updated
    })
  }

  /** Delete a custom group; its memberships go with it. */
  async function deleteGroup (id: number, actor: Actor): Promise<Group> {
    return await db.transaction(async (trx) => {
      const group = await findGroup(trx, id)
      if (group.systemKey !== null) throw new Refused(`${group.name} is a system group: it cannot be deleted.`)
      await trx('groups').where('id', id).del()
      await audit(trx, actor, 'group.deleted', group, { members: group.memberCount })
      return group
    })
  }

  async function listMembers (id: number, query: { q?: string, page?: number }): Promise<Page<Account>> {
    const base = db('developers').join('developer_groups', 'developer_groups.developer_id', 'developers.id').where('developer_groups.group_id', id)
    const q = query.q?.trim().toLowerCase() ?? ''
    if (q !== '') {
      void base.where((w) => {
        void w.whereRaw('developers.email_normalized like ? escape ?', [likePattern(q), '\\']).orWhereRaw('developers.name_normalized like ? escape ?', [likePattern(q), '\\'])
      })
    }
    return await pageOf(base, query.page, MEMBERS_PAGE_SIZE, async (page) => {
      const rows = await page.select(ACCOUNT_COLUMNS.map((c) => `developers.${c}`)).orderBy('developers.name_normalized').orderBy('developers.id')
      return rows.map(toAccount)
    })
  }

  /** Adds one account, found by id or email, inside the caller's transaction. */
  async function addOne (trx: Knex.Transaction, group: Group, account: Account | undefined, actor: Actor): Promise<MemberResult> {
    if (!group.takesMembers) throw new Refused(GUESTS_TAKE_NO_MEMBERS)
    if (account === undefined) return 'no such account'
    if (account.state === 'pending') return 'pending invitation'
    const inserted = await trx('developer_groups').insert({ developer_id: account.id, group_id: group.id, created_at: isoNow(clock) }).onConflict(['developer_id', 'group_id']).ignore().returning('developer_id')
    if (inserted.length === 0) return 'already a member'
    await audit(trx, actor, 'group.member-added', group, { developerId: account.id, email: account.email })
    return 'added'
  }

  async function accountByEmail (trx: Knex.Transaction, email: string): Promise<Account | undefined> {
    return await findStoredAccount(trx, { email })
  }

  async function addMemberByEmail (groupId: number, email: string, actor: Actor): Promise<MemberResult> {
    return await db.transaction(async (trx) => {
      const group = await findGroup(trx, groupId)
      // The same email rule as Add user: an address it refuses is reported, not looked up.
      return emailProblem(email) === null ? await addOne(trx, group, await accountByEmail(trx, email), actor) : 'not an email address'
    })
  }

  /** Add many: one email per line, each reported; all in one transaction. */
  async function addMembersByEmail (groupId: number, lines: string, actor: Actor): Promise<Array<{ email: string, result: MemberResult }>> {
    const emails = [...new Set(lines.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== ''))]
    if (emails.length === 0) throw new Invalid({ emails: 'Enter at least one email address, one per line.' })
    if (emails.length > BULK_MAX) throw new Invalid({ emails: `Add at most ${BULK_MAX} addresses at once.` })
    return await db.transaction(async (trx) => {
      const group = await findGroup(trx, groupId)
      const results: Array<{ email: string, result: MemberResult }> = []
      for (const email of emails) {
        // The same email rule as Add user: an address it refuses is reported here, not looked up.
        const result = emailProblem(email) === null ? await addOne(trx, group, await accountByEmail(trx, email), actor) : 'not an email address'
        results.push({ email, result })
      }
      return results
    })
  }

  async function addMemberById (groupId: number, developerId: number, actor: Actor): Promise<{ group: Group, result: MemberResult }> {
    return await db.transaction(async (trx) => {
      const group = await findGroup(trx, groupId)
      return { group, result: await addOne(trx, group, await findAccount(trx, developerId), actor) }
    })
  }

  /** A bulk "Add to group": every account in one transaction, each reported. */
  async function addMembersById (groupId: number, developerIds: number[], actor: Actor): Promise<{ group: Group, results: Array<{ id: number, account: Account | null, result: MemberResult }> }> {
    return await db.transaction(async (trx) => {
      const group = await findGroup(trx, groupId)
      const results: Array<{ id: number, account: Account | null, result: MemberResult }> = []
      for (const id of developerIds) {
        const account = await findStoredAccount(trx, { id })
        results.push({ id, account: account ?? null, result: await addOne(trx, group, account, actor) })
      }
      return { group, results }
    })
  }

  /** Remove one member inside the caller's transaction: never from Developers, never the last active administrator from Administrators. */
  async function removeOne (trx: Knex.Transaction, group: Group, account: Account, actor: Actor): Promise<void> {
    if (group.systemKey === 'developers') throw new Refused(EVERYONE_IN_DEVELOPERS)
    if (group.systemKey === 'administrators') await keepAnActiveAdministrator(trx, account)
    await trx('developer_groups').where({ group_id: group.id, developer_id: account.id }).del()
    await audit(trx, actor, 'group.member-removed', group, { developerId: account.id, email: account.email })
  }

  async function removeMember (groupId: number, developerId: number, actor: Actor): Promise<{ group: Group, account: Account }> {
    return await db.transaction(async (trx) => {
      const group = await findGroup(trx, groupId)
      const row = await trx('developers').join('developer_groups', 'developer_groups.developer_id', 'developers.id')
        .where({ 'developer_groups.group_id': groupId, 'developers.id': developerId }).first(ACCOUNT_COLUMNS.map((c) => `developers.${c}`))
      if (row === undefined) throw new NotFound('This developer is not a member of this group.')
      const account = toAccount(row)
      await removeOne(trx, group, account, actor)
      return { group, account }
    })
  }

  /** Every group, for pickers and filters. */
  async function listSummaries (): Promise<GroupSummary[]> {
    return await listGroupSummaries(db)
  }

  /** The groups an account could still be added to: not Guests, not one it is in. */
  async function joinableGroups (memberOf: Array<{ id: number }>): Promise<GroupSummary[]> {
    return (await listGroupSummaries(db)).filter((group) => group.takesMembers && !memberOf.some((m) => m.id === group.id))
  }

  return { createIn, addOne, removeOne, findGroupIn: findGroup, listSummaries, joinableGroups, groupsOf: async (ids: number[]) => await groupsOf(db, ids), addMembersById, findGroup: async (id: number) => await findGroup(db, id), listGroups, createGroup, updateGroup, deleteGroup, listMembers, addMemberByEmail, addMembersByEmail, addMemberById, removeMember }
}

export type Groups = ReturnType<typeof createGroups>
