import type { Knex } from 'knex'
import type { Actor, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { throwIfInvalid, type FieldErrors } from '../kernel/errors'
import { nameProblem } from '../kernel/text-rules'

export interface PortalSettings {
  signupEnabled: boolean
  /** Shown at sign-up, with a checkbox to agree, when not empty. */
  termsOfUse: string
  orgName: string
  /** Off: developers sign in only through an identity provider (administrators keep their password). */
  passwordSignIn: boolean
  /** With one provider and password sign-in off, /signin goes straight to the provider. */
  autoRedirect: boolean
  /** Administrators must turn on two-step sign-in before any /admin page. */
  requireAdminMfa: boolean
  /** Developers may create organisations (administrators always can). */
  developersCreateOrganisations: boolean
}

export const ORG_NAME_MAX = 100
export const TERMS_MAX = 20_000

type Key = keyof PortalSettings

/**
 * How long the page chrome (organisation name, the sign-up link) may show settings read earlier.
 * This instance forgets them at once when they are saved here; another instance shows the change
 * within this time. Decisions (may this visitor sign up?) always read the table.
 */
export const CHROME_SETTINGS_MS = 1000

/** Portal settings from the database, with ORG_NAME and "sign-up on" as defaults. */
export function createSettings ({ db, clock, events, orgName }: { db: Knex, clock: Clock, events: Events, orgName: string }) {
  const defaults: PortalSettings = { signupEnabled: true, termsOfUse: '', orgName, passwordSignIn: true, autoRedirect: false, requireAdminMfa: false, developersCreateOrganisations: true }
  const flag = (value: string | undefined, fallback: boolean): boolean => value === undefined ? fallback : value === 'true'

  async function getSettings (trx: Knex | Knex.Transaction = db): Promise<PortalSettings> {
    const rows: Array<{ key: Key, value: string }> = await trx('settings').select('key', 'value')
    const stored = Object.fromEntries(rows.map((row) => [row.key, row.value]))
    return {
      signupEnabled: flag(stored.signupEnabled, defaults.signupEnabled),
      termsOfUse: stored.termsOfUse ?? defaults.termsOfUse,
      orgName: stored.orgName ?? defaults.orgName,
      passwordSignIn: flag(stored.passwordSignIn, defaults.passwordSignIn),
      autoRedirect: flag(stored.autoRedirect, defaults.autoRedirect),
      requireAdminMfa: flag(stored.requireAdminMfa, defaults.requireAdminMfa),
      developersCreateOrganisations: flag(stored.developersCreateOrganisations, defaults.developersCreateOrganisations)
    }
  }

  let chrome: { settings: Promise<PortalSettings>, until: number } | null = null

  /** The settings every page's layout shows, read at most once a CHROME_SETTINGS_MS per instance. */
  async function chromeSettings (): Promise<PortalSettings> {
    const now = Date.now()
    if (chrome === null || chrome.until <= now) {
      const settings = getSettings()
      chrome = { settings, until: now + CHROME_SETTINGS_MS }
      // A failed read is not kept: the next page asks again.
      settings.catch(() => { chrome = null })
    }
    return await chrome.settings
  }

  /** Saves the settings given (the others stay as they are), in one transaction, audited with the names of those that changed. */
  async function saveSettings (changes: Partial<PortalSettings>, actor: Actor): Promise<PortalSettings> {
    return await db.transaction(async (trx) => {
      const before = await getSettings(trx)
      const input = { ...before, ...changes }
      const errors: FieldErrors = {}
      const orgNameValue = input.orgName.trim()
      const orgNameError = nameProblem('organisation name', orgNameValue, ORG_NAME_MAX)
      if (orgNameError !== null) errors.orgName = orgNameError
      if (input.termsOfUse.length > TERMS_MAX) errors.termsOfUse = `The terms can be at most ${TERMS_MAX} characters.`
      throwIfInvalid(errors)
      const next: PortalSettings = { ...input, termsOfUse: input.termsOfUse.replace(/\r\n/g, '\n').trim(), orgName: orgNameValue }
      const now = isoNow(clock)
      const rows = (Object.keys(next) as Key[]).map((key) => ({ key, value: String(next[key]), updated_at: now }))
      await trx('settings').insert(rows).onConflict('key').merge()
      const changed = (Object.keys(next) as Key[]).filter((key) => before[key] !== next[key])
      await events.record(trx, { actor, action: 'settings.changed', target: { type: 'settings', id: null, label: changed.join(', ') || 'no change' } })
      return next
    }).finally(() => { chrome = null })
  }

  return { getSettings, chromeSettings, saveSettings }
}

export type Settings = ReturnType<typeof createSettings>
