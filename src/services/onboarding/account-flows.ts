import type { Knex } from 'knex'
import type { Clock } from '../kernel/clock'
import type { Events } from '../kernel/events'
import type { PasswordHasher } from '../accounts/passwords'
import type { MailBudget } from '../mail/mail-budget'
import type { Outbox } from '../mail/outbox'

/** What every flow that emails an account a link needs: sign-up, password reset, profile changes. */
export interface AccountFlowDeps {
  db: Knex
  hasher: PasswordHasher
  clock: Clock
  events: Events
  outbox: Outbox
  mailBudget: MailBudget
  /** Base of the links in the emails. */
  publicUrl: string
}
