import type { Knex } from 'knex'
import { isoNow, type Clock } from '../clock'
import type { Account } from '../accounts/account-store'
import { groupIdsForNewAccount } from '../groups/group-lookups'
import type { Outbox } from '../mail/outbox'

/**
 * A pending account becomes active (an accepted invitation, a confirmed sign-up): it joins
 * Developers and gets the welcome email, in the caller's transaction.
 */
export async function activatePendingAccount (trx: Knex.Transaction, clock: Clock, outbox: Outbox, account: Account, changes: Record<string, string> = {}): Promise<Account> {
  const now = isoNow(clock)
  await trx('developers').where({ id: account.id, state: 'pending' }).update({ ...changes, state: 'active', updated_at: now })
  const groups = await groupIdsForNewAccount(trx, [])
  await trx('developer_groups').insert(groups.map((groupId) => ({ developer_id: account.id, group_id: groupId, created_at: now }))).onConflict(['developer_id', 'group_id']).ignore()
  const active: Account = { ...account, state: 'active', updatedAt: now, lastSignInAt: changes.last_sign_in_at ?? account.lastSignInAt }
  await outbox.queueEmail(trx, 'welcome', active)
  return active
}
