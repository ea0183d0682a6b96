import type { Knex } from 'knex'
import { isoNow, type Clock } from '../kernel/clock'
import { recordSignIn, updateAccount, type Account } from '../accounts/account-store'
import { groupIdsForNewAccount } from '../groups/group-lookups'
import type { Outbox } from '../mail/outbox'

/**
 * A pending account becomes active (an accepted invitation, a confirmed sign-up): it joins
 * Developers and gets the welcome email, in the caller's transaction.
 */
export async function activatePendingAccount (trx: Knex.Transaction, clock: Clock, outbox: Outbox, account: Account, options: { passwordHash?: string, signIn?: boolean } = {}): Promise<Account> {
  const now = isoNow(clock)
  await updateAccount(trx, { id: account.id, state: 'pending' }, { state: 'active', ...(options.passwordHash === undefined ? {} : { passwordHash: options.passwordHash }) }, now)
  if (options.signIn === true) await recordSignIn(trx, account.id, now)
  const groups = await groupIdsForNewAccount(trx, [])
  await trx('developer_groups').insert(groups.map((groupId) => ({ developer_id: account.id, group_id: groupId, created_at: now }))).onConflict(['developer_id', 'group_id']).ignore()
  const active: Account = { ...account, state: 'active', updatedAt: now, lastSignInAt: options.signIn === true ? now : account.lastSignInAt }
  await outbox.queueEmail(trx, 'welcome', active)
  return active
}
