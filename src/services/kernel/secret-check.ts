import type { Knex } from 'knex'
import { ConfigError } from '../../config'
import { createSealer } from './sealer'

const PURPOSE = 'key-secret-check'
const PLAIN = 'portico key secret check'

/**
 * Subscription keys and emailed links are sealed with KEY_SECRET. A database first written with
 * one secret keeps a value sealed with it; start-up opens that value, so a wrong or lost secret
 * stops the app with one clear line instead of failing key by key later.
 */
export async function checkKeySecret (db: Knex, keySecret: string): Promise<void> {
  const sealer = createSealer(keySecret, PURPOSE)
  await db('secret_checks').insert({ purpose: PURPOSE, sealed: sealer.seal(PLAIN) }).onConflict('purpose').ignore()
  const row: { sealed: string } | undefined = await db('secret_checks').where('purpose', PURPOSE).first('sealed')
  if (row === undefined || sealer.open(row.sealed) !== PLAIN) {
    throw new ConfigError('KEY_SECRET', 'is not the secret this database was first used with, so its subscription keys cannot be read. Set KEY_SECRET (or the data folder\'s key-secret file) to that secret; every instance needs the same one.')
  }
}
