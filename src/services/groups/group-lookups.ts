import type { Knex } from 'knex'
import { Invalid } from '../kernel/errors'

export type SystemGroupKey = 'administrators' | 'developers' | 'guests'

export interface GroupSummary {
  id: number
  name: string
  systemKey: SystemGroupKey | null
  /** False for Guests, which stands for signed-out visitors. */
  takesMembers: boolean
}

/** The Guests rule, in one place: Guests stands for signed-out visitors and takes no members. */
export const GUESTS_TAKE_NO_MEMBERS = 'Guests stands for signed-out visitors and takes no members.'

export function takesMembers (group: { systemKey: SystemGroupKey | null }): boolean {
  return group.systemKey !== 'guests'
}

export function toGroupSummary (row: { id: number, name: string, system_key: SystemGroupKey | null }): GroupSummary {
  return { id: row.id, name: row.name, systemKey: row.system_key, takesMembers: takesMembers({ systemKey: row.system_key }) }
}

interface GroupRow {
  id: number
  name: string
  system_key: SystemGroupKey | null
}

/** Every group, system groups first, for pickers and filters. */
export async function listGroupSummaries (db: Knex | Knex.Transaction): Promise<GroupSummary[]> {
  const rows: GroupRow[] = await db('groups')
    .select('id', 'name', 'system_key')
    .orderByRaw('case when system_key is null then 1 else 0 end')
    .orderBy('name_normalized')
  return rows.map(toGroupSummary)
}

/**
 * The groups each new active account joins: always Developers (it holds everyone who can sign in
 * to the portal), plus the chosen ones. A chosen group that does not exist, or Guests (which takes
 * no members), is refused by name, beside the `groups` field: never dropped without a word. One
 * query for many accounts (a CSV import's slice).
 */
export async function groupIdsForNewAccounts (trx: Knex.Transaction, chosen: number[][]): Promise<number[][]> {
  const wanted = [...new Set(chosen.flat())]
  const rows: GroupRow[] = await trx('groups')
    .where((q) => { void q.whereIn('id', wanted).orWhere('system_key', 'developers') })
    .select('id', 'name', 'system_key')
  const groups = new Map(rows.map((row) => [row.id, toGroupSummary(row)]))
  const unknown = wanted.filter((id) => !groups.has(id))
  if (unknown.length > 0) throw new Invalid({ groups: `There is no group with the id ${unknown.join(', ')}.` })
  if (wanted.some((id) => !takesMembers(groups.get(id) as GroupSummary))) throw new Invalid({ groups: GUESTS_TAKE_NO_MEMBERS })
  const developers = rows.find((row) => row.system_key === 'developers')
  return chosen.map((ids) => [...new Set([...(developers === undefined ? [] : [developers.id]), ...ids])])
}

/** The groups of each of these accounts (id and name, by name), in one query. */
export async function groupsOf (db: Knex | Knex.Transaction, developerIds: number[]): Promise<Map<number, Array<{ id: number, name: string }>>> {
  const groups = new Map<number, Array<{ id: number, name: string }>>(developerIds.map((id) => [id, []]))
  if (developerIds.length === 0) return groups
  const rows: Array<{ developer_id: number, id: number, name: string }> = await db('developer_groups')
    .join('groups', 'groups.id', 'developer_groups.group_id')
    .whereIn('developer_groups.developer_id', developerIds)
    .orderBy('groups.name_normalized')
    .select('developer_groups.developer_id', 'groups.id', 'groups.name')
  for (const row of rows) groups.get(row.developer_id)?.push({ id: row.id, name: row.name })
  return groups
}
