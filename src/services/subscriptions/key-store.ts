import { hash, randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import type { Sealer } from '../kernel/sealer'

export const KEY_SLOTS = ['primary', 'secondary'] as const
export type KeySlot = typeof KEY_SLOTS[number]

/** A subscription key: 128 random bits, 32 hex characters (as the reference product's keys look). */
export function newKey (): string {
  return randomBytes(16).toString('hex')
}

const KEY_FORMAT = /^[0-9a-f]{32}$/

/** Whether a string sent as a key could be one (anything else is refused before any look-up). */
export function isWellFormedKey (key: string): boolean {
  return key.length === 32 && KEY_FORMAT.test(key)
}

/** What the database keeps to find a key: its SHA-256 digest. */
export function keyDigest (key: string): string {
  return hash('sha256', key, 'hex')
}

export interface SubscriptionKeys { primary: string | null, secondary: string | null }

/**
 * Keys at rest: a digest for look-up (unique index) and a copy sealed with KEY_SECRET (AES-256-GCM)
 * for its owner to read. A copy of the database alone reveals no key.
 */
export function createKeyStore (sealer: Sealer) {
  /** Writes a fresh key into a slot, replacing the old one: the old key stops at once. */
  async function issueKey (trx: Knex.Transaction, subscriptionId: number, slot: KeySlot, now: string): Promise<string> {
    const key = newKey()
    const row = { digest: keyDigest(key), sealed: sealer.seal(key), created_at: now }
    await trx('subscription_keys').insert({ subscription_id: subscriptionId, slot, ...row }).onConflict(['subscription_id', 'slot']).merge(row)
    return key
  }

  async function issueBoth (trx: Knex.Transaction, subscriptionId: number, now: string): Promise<void> {
    for (const slot of KEY_SLOTS) await issueKey(trx, subscriptionId, slot, now)
  }

  /** The readable keys of these subscriptions (null where a key cannot be opened with this KEY_SECRET). */
  async function revealKeys (q: Knex, subscriptionIds: number[]): Promise<Map<number, SubscriptionKeys>> {
    const keys = new Map<number, SubscriptionKeys>(subscriptionIds.map((id) => [id, { primary: null, secondary: null }]))
    if (subscriptionIds.length === 0) return keys
    const rows: Array<{ subscription_id: number, slot: KeySlot, sealed: string }> = await q('subscription_keys').whereIn('subscription_id', subscriptionIds).select('subscription_id', 'slot', 'sealed')
    for (const row of rows) {
      const entry = keys.get(row.subscription_id)
      if (entry !== undefined) entry[row.slot] = sealer.open(row.sealed)
    }
    return keys
  }

  return { issueKey, issueBoth, revealKeys }
}

export type KeyStore = ReturnType<typeof createKeyStore>
