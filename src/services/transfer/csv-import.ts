import type { Knex } from 'knex'
import { parse } from 'csv-parse/sync'
import { recordAudit, type Actor } from '../audit'
import { isoNow, type Clock } from '../clock'
import { Invalid, NotFound, Refused } from '../errors'
import { insertAccount, normalizeEmail, type Account } from '../accounts/account-store'
import { inviteErrors, type Invitations } from '../onboarding/invitations'
import { createAccountTokens } from '../onboarding/single-use-links'
import type { Outbox } from '../mail/outbox'
import { formatDate } from '../../format'
import { GROUP_NAME_MAX } from '../groups/groups'
import { nameProblem } from '../text-rules'

export type ImportMode = 'create' | 'invite'
export const IMPORT_MAX_BYTES = 10 * 1024 * 1024
export const IMPORT_MAX_ROWS = 50_000
/** A previewed import can be run for this long. */
const IMPORT_TTL_MS = 60 * 60 * 1000

export interface ImportRow {
  line: number
  email: string
  firstName: string
  lastName: string
  groups: string[]
}

export type RowOutcome = 'create' | 'invite' | 'exists' | 'invalid'

export interface PreviewRow extends ImportRow {
  outcome: RowOutcome
  /** Why a row is invalid, or the state of the account that exists. */
  reason: string | null
}

export interface ImportPreview {
  id: number | null
  mode: ImportMode
  fileName: string
  rows: PreviewRow[]
  counts: Record<RowOutcome, number>
  /** Groups named in the file that do not exist yet: the run creates them. */
  newGroups: string[]
  ignoredColumns: string[]
}

export interface ImportResult { created: number, invited: number, skipped: number, alreadyRun: boolean }

const COLUMNS = { email: 'email', firstname: 'firstName', lastname: 'lastName', groups: 'groups' } as const
const REQUIRED = ['email', 'firstName', 'lastName']
const HEADER_HELP = 'The first line must name the columns: email, firstName, lastName, and optionally groups (group names separated by ";").'

/**
 * Reads a CSV file (UTF-8, with or without a byte-order mark; quoted commas, quotes and line
 * breaks; CRLF or LF) with csv-parse. Anything else gets a clear message for the file field.
 */
export function parseImportFile (bytes: Buffer): { rows: ImportRow[], ignoredColumns: string[] } {
  const problem = (message: string): Invalid => new Invalid({ file: message })
  if (bytes.length === 0) throw problem('The file is empty. Choose a CSV file with a header line and one line per account.')
  if (bytes.length > IMPORT_MAX_BYTES) throw problem('The file is larger than 10 MB. Split it into smaller files.')
  if ((bytes[0] === 0xFF && bytes[1] === 0xFE) || (bytes[0] === 0xFE && bytes[1] === 0xFF) || bytes.includes(0)) {
    throw problem('This file is UTF-16 (or binary), not a UTF-8 CSV. In your spreadsheet, save it as "CSV UTF-8", then upload it again.')
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw problem('This file is not UTF-8 text. In your spreadsheet, save it as "CSV UTF-8", then upload it again.')
  }
  let records: string[][]
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false, max_record_size: 64 * 1024, to: IMPORT_MAX_ROWS + 2 })
  } catch (err) {
    // csv-parse's errors carry a CSV_ code and the line (its sync build has its own CsvError class).
    const csvError = err as Error & { code?: unknown, lines?: number }
    if (err instanceof Error && typeof csvError.code === 'string' && csvError.code.startsWith('CSV_')) {
      const line = csvError.lines
      throw problem(`The file could not be read as CSV${line === undefined ? '' : ` (line ${line})`}: ${err.message.replace(/^Invalid [^:]*:\s*/, '')}`)
    }
    throw err
  }
  const [header, ...data] = records
  if (header === undefined) throw problem('The file has no lines. ' + HEADER_HELP)
  const names = header.map((cell) => cell.trim())
  const index: Partial<Record<typeof COLUMNS[keyof typeof COLUMNS], number>> = {}
  const ignoredColumns: string[] = []
  names.forEach((name, i) => {
    const known = COLUMNS[name.toLowerCase().replace(/[\s_-]/g, '') as keyof typeof COLUMNS]
    if (known !== undefined && index[known] === undefined) index[known] = i
    else ignoredColumns.push(name)
  })
  const missing = REQUIRED.filter((name) => index[name as keyof typeof index] === undefined)
  if (missing.length > 0) {
    const shown = names.slice(0, 8).map((n) => `"${n.slice(0, 40)}"`).join(', ')
    throw problem(`The header line lacks ${missing.join(', ')}. ${HEADER_HELP} This file's first line has ${shown}${names.length > 8 ? ', …' : ''}.`)
  }
  if (data.length > IMPORT_MAX_ROWS) throw problem(`The file has more than ${IMPORT_MAX_ROWS} accounts. Split it into smaller files.`)
  if (data.length === 0) throw problem('The file has a header line but no accounts.')
  const cell = (record: string[], at: number | undefined): string => at === undefined ? '' : (record[at] ?? '').trim()
  const rows = data.map((record, i) => ({
    line: i + 2,
    email: cell(record, index.email),
    firstName: cell(record, index.firstName),
    lastName: cell(record, index.lastName),
    groups: [...new Set(cell(record, index.groups).split(';').map((g) => g.trim()).filter((g) => g !== ''))]
  }))
  return { rows, ignoredColumns }
}

interface Deps {
  db: Knex
  clock: Clock
  outbox: Outbox
  invitations: Invitations
  publicUrl: string
  linkTtlHours: number
}

/**
 * CSV import: a preview of what each row would do (nothing written but the kept rows), then one
 * run in one transaction that checks every row again. Rows whose email already has an account
 * are skipped, so running a file again changes nothing new.
 */
export function createCsvImport ({ db, clock, outbox, invitations, publicUrl, linkTtlHours }: Deps) {
  const tokens = createAccountTokens(clock)

  /** Existing accounts by normalized email, and existing groups by normalized name. */
  async function lookups (q: Knex | Knex.Transaction, rows: ImportRow[]) {
    const emails = [...new Set(rows.map((r) => normalizeEmail(r.email)))]
    const existing = new Map<string, string>()
    for (let i = 0; i < emails.length; i += 500) {
      const found: Array<{ email_normalized: string, state: string }> = await q('developers').whereIn('email_normalized', emails.slice(i, i + 500)).select('email_normalized', 'state')
      for (const row of found) existing.set(row.email_normalized, row.state)
    }
    const groups = new Map<string, { id: number, name: string, system_key: string | null }>()
    for (const row of await q('groups').select('id', 'name', 'name_normalized', 'system_key')) groups.set(row.name_normalized, row)
    return { existing, groups }
  }

  function classify (rows: ImportRow[], mode: ImportMode, existing: Map<string, string>, groups: Map<string, { system_key: string | null }>): { rows: PreviewRow[], newGroups: string[] } {
    const seen = new Map<string, number>()
    const newGroups = new Map<string, string>()
    const previewed = rows.map((row): PreviewRow => {
      const errors = Object.values(inviteErrors(row))
      const email = normalizeEmail(row.email)
      for (const name of row.groups) {
        const group = groups.get(name.toLowerCase())
        if (group?.system_key === 'guests') errors.push('Guests takes no members.')
        else if (group === undefined) {
          const problem = nameProblem('group name', name, GROUP_NAME_MAX)
          if (problem !== null) errors.push(problem)
        }
      }
      const earlier = seen.get(email)
      if (errors.length === 0 && earlier !== undefined) errors.push(`This email is already on line ${earlier}.`)
      if (errors.length > 0) return { ...row, outcome: 'invalid', reason: errors.join(' ') }
      seen.set(email, row.line)
      const state = existing.get(email)
      if (state !== undefined) return { ...row, outcome: 'exists', reason: state === 'pending' ? 'invited, not yet accepted' : state }
      if (mode === 'create') for (const name of row.groups) if (!groups.has(name.toLowerCase())) newGroups.set(name.toLowerCase(), name)
      return { ...row, outcome: mode, reason: null }
    })
    return { rows: previewed, newGroups: [...newGroups.values()] }
  }

  function countsOf (rows: PreviewRow[]): Record<RowOutcome, number> {
    const counts: Record<RowOutcome, number> = { create: 0, invite: 0, exists: 0, invalid: 0 }
    for (const row of rows) counts[row.outcome]++
    return counts
  }

  /** Reads the file and says what each row would do; keeps the rows (not the file) for the run. */
  async function preview (file: Buffer, fileName: string, mode: ImportMode, actor: Actor & { id: number }): Promise<ImportPreview> {
    const { rows, ignoredColumns } = parseImportFile(file)
    const { existing, groups } = await lookups(db, rows)
    const classified = classify(rows, mode, existing, groups)
    const now = isoNow(clock)
    await db('csv_imports').where('created_at', '<', new Date(clock.now().getTime() - IMPORT_TTL_MS).toISOString()).del()
    const [inserted] = await db('csv_imports').insert({ created_by: actor.id, mode, file_name: fileName.slice(0, 300), rows: JSON.stringify(rows), created_at: now }).returning('id')
    const id: number = typeof inserted === 'object' ? inserted.id : inserted
    return { id, mode, fileName, rows: classified.rows, counts: countsOf(classified.rows), newGroups: classified.newGroups, ignoredColumns }
  }

  /** An active account with no password: a one-time link to choose one is mailed. */
  async function createOne (trx: Knex.Transaction, row: ImportRow, groupIds: number[], actor: Actor): Promise<Account> {
    const now = isoNow(clock)
    const account = await insertAccount(trx, row, 'active', null, now)
    await trx('developer_groups').insert(groupIds.map((groupId) => ({ developer_id: account.id, group_id: groupId, created_at: now })))
    const { token, expiresAt } = await tokens.issueToken(trx, account.id, 'password-reset', { ttlMs: linkTtlHours * 3_600_000, createdBy: actor.id })
    await outbox.queueRequiredEmail(trx, 'account-created', account, { ConfirmUrl: `${publicUrl}/password-reset/${token}`, ExpiresAt: formatDate(expiresAt), DevEmail: account.email })
    await recordAudit(trx, clock, { actor, action: 'developer.created', target: { type: 'developer', id: account.id, label: account.email }, details: { groupIds, imported: true } })
    return account
  }

  /** Runs a previewed import once, in one transaction; every row is checked again first. */
  async function run (id: number, actor: Actor): Promise<ImportResult> {
    const kept: { mode: ImportMode, rows: string, ran_at: string | null, created_at: string } | undefined = await db('csv_imports').where('id', id).first()
    if (kept === undefined || kept.created_at < new Date(clock.now().getTime() - IMPORT_TTL_MS).toISOString()) {
      throw new NotFound('This import is no longer available: upload the file again to see a fresh preview.')
    }
    const rows = JSON.parse(kept.rows) as ImportRow[]
    if (kept.mode === 'invite') await outbox.requireEnabled('invitation')
    else await outbox.requireEnabled('account-created')
    return await db.transaction(async (trx) => {
      const claimed = await trx('csv_imports').where('id', id).whereNull('ran_at').update({ ran_at: isoNow(clock) })
      const { existing, groups } = await lookups(trx, rows)
      const { rows: classified, newGroups } = classify(rows, kept.mode, existing, groups)
      const result: ImportResult = { created: 0, invited: 0, skipped: 0, alreadyRun: claimed === 0 }
      if (claimed === 0) return { ...result, skipped: rows.length }
      for (const name of newGroups) {
        const [row] = await trx('groups').insert({ name, name_normalized: name.toLowerCase(), description: '', created_at: isoNow(clock) }).returning(['id', 'name', 'system_key'])
        groups.set(name.toLowerCase(), row)
        await recordAudit(trx, clock, { actor, action: 'group.created', target: { type: 'group', id: row.id, label: name }, details: { imported: true } })
      }
      const developers = [...groups.values()].find((g) => g.system_key === 'developers')
      if (developers === undefined) throw new Refused('The Developers group is missing.')
      const invites: ImportRow[] = []
      for (const row of classified) {
        if (row.outcome === 'create') {
          const ids = new Set([developers.id, ...row.groups.map((name) => groups.get(name.toLowerCase())?.id ?? developers.id)])
          await createOne(trx, row, [...ids], actor)
          result.created++
        } else if (row.outcome === 'invite') {
          invites.push(row)
        } else {
          result.skipped++
        }
      }
      // Each row was checked again in this transaction: none of them has an account.
      result.invited += (await invitations.inviteNew(trx, invites, actor)).length
      return result
    })
  }

  return { preview, run }
}

export type CsvImport = ReturnType<typeof createCsvImport>
