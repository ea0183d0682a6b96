import type { Config } from '../../config'
import { ConfigError } from '../../config'
import type { Accounts } from './accounts'
import { Invalid } from '../kernel/errors'

/** ADMIN_EMAIL / ADMIN_PASSWORD: the headless first-run setup, done only while no administrator exists. */
export async function ensureConfiguredAdministrator (accounts: Accounts, config: Config): Promise<void> {
  if (config.adminEmail === null || config.adminPassword === null) return
  if (await accounts.hasAdministrator()) return
  try {
    await accounts.createFirstAdministrator(
      { firstName: 'Portal', lastName: 'Administrator', email: config.adminEmail, password: config.adminPassword },
      null
    )
  } catch (err) {
    if (err instanceof Invalid) {
      const [field, message] = Object.entries(err.fields)[0] ?? ['email', err.message]
      throw new ConfigError(field === 'password' ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL', message)
    }
    throw err
  }
}
