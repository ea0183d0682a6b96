import { isUtf8 } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { parse } from 'csv-parse'
import type { Actor } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { Invalid, NotFound, Refused } from '../kernel/errors'
import { INSERT_BATCH, accountStatesByEmail, normalizeEmail } from '../accounts/account-store'
import type { Accounts } from '../accounts/accounts'
import { inviteErrors, type Invitations } from '../onboarding/invitations'
import type { Outbox } from '../mail/outbox'
import { restored } from './spreadsheet-cells'
import { groupNameProblem, type Groups } from '../groups/groups'
import { GUESTS_TAKE_NO_MEMBERS, type SystemGroupKey } from '../groups/group-lookups'
import { identifierKey } from '../kernel/text-rules'
import { createSlicer, yieldToOthers } from '../kernel/slices'

export type ImportMode = 'create' | 'invite'
export const IMPORT_MAX_BYTES = 10 * 1024 * 1024
export const IMPORT_MAX_ROWS = 50_000
/** A previewed import can be run for this long. */
const IMPORT_TTL_MS = 60 * 60 * 1000
/** Rows written per transaction by a run (about 60 ms on SQLite): each slice is short, and other writers get their turn between slices. */
const ROWS_PER_SLICE = 200
/** A run that has not moved for this long has stopped (its instance closed or died): it can be resumed. */
const STALLED_MS = 60_000
/** Finished imports are kept this long, for their page. */
const KEPT_MS = 24 * 60 * 60 * 1000

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
  /** Groups named in the file that do not exist yet: the run creates them (create mode only). */
  newGroups: string[]
  ignoredColumns: string[]
}

export type ImportStatus = 'running' | 'done' | 'failed'

/** A run as its page shows it. */
export interface ImportProgress {
  id: number
  mode: ImportMode
  status: ImportStatus
  /** Running, but not moved for a minute: its instance stopped; it can be resumed. */
  stalled: boolean
  totalRows: number
  doneRows: number
  created: number
  invited: number
  skipped: number
  error: string | null
  finishedAt: string | null
}

export interface ImportResult { created: number, invited: number, skipped: number, alreadyRun: boolean }

const COLUMNS = { email: 'email', firstname: 'firstName', lastname: 'lastName', groups: 'groups' } as const
const REQUIRED = ['email', 'firstName', 'lastName']
const HEADER_HELP = 'The first line must name the columns: email, firstName, lastName, and optionally groups (group names separated by ";").'
const NO_ADMINISTRATORS = 'An import never makes administrators: add them one by one, on their page.'
const GONE = 'This import is no longer available: upload the file again to see a fresh preview.'

interface GroupRow { id: number, name: string, system_key: SystemGroupKey | null }

interface StoredImport {
  id: number
  created_by: number
  mode: ImportMode
  status: 'previewing' | 'previewed' | ImportStatus
  created_at: string
  total_rows: number
  done_line: number
  done_rows: number
  created: number
  invited: number
  skipped: number
  heartbeat_at: string | null
  finished_at: string | null
  error: string | null
}

interface StoredRow { line: number, email: string, first_name: string, last_name: string, groups: string, problem: string | null }

const problem = (message: string): Invalid => new Invalid({ file: message })

/** This run stalled and another took the import over: it stops, leaving the rest to that one. */
class TakenOver extends Error {}

/** The file's records, parsed by csv-parse a chunk at a time, letting other work run between chunks. */
async function parseRecords (bytes: Buffer): Promise<string[][]> {
  const records: string[][] = []
  const parser = parse({ bom: true, skip_empty_lines: true, relax_column_count: false, max_record_size: 64 * 1024 })
  const ended = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve)
    parser.on('error', reject)
  })
  // Awaited once the file is written: a refusal that comes sooner is not an unhandled rejection meanwhile.
  ended.catch(() => {})
  parser.on('data', (record: string[]) => { records.push(record) })
  const pause = createSlicer()
  let failed = false
  parser.once('error', () => { failed = true })
  for (let at = 0; at < bytes.length && !failed && records.length <= IMPORT_MAX_ROWS + 1; at += 64 * 1024) {
    parser.write(bytes.subarray(at, at + 64 * 1024))
    await pause()
  }
  parser.end()
  try {
    await ended
  } catch (err) {
    // csv-parse's errors carry a CSV_ code and the line.
    const csvError = err as Error & { code?: unknown, lines?: number }
    if (err instanceof Error && typeof csvError.code === 'string' && csvError.code.startsWith('CSV_')) {
      const line = csvError.lines
      throw problem(`The file could not be read as CSV${line === undefined ? '' : ` (line ${line})`}: ${err.message.replace(/^Invalid [^:]*:\s*/, '')}`)
    }
    throw err
  }
  return records
}

/**
 * Reads a CSV file (UTF-8, with or without a byte-order mark; quoted commas, quotes and line
 * breaks; CRLF or LF) with csv-parse, in slices. Anything else gets a clear message for the file field.
 */
export async function parseImportFile (bytes: Buffer): Promise<{ rows: ImportRow[], ignoredColumns: string[] }> {
  if (bytes.length === 0) throw problem('The file is empty. Choose a CSV file with a header line and one line per account.')
  if (bytes.length > IMPORT_MAX_BYTES) throw problem('The file is larger than 10 MB. Split it into smaller files.')
  if ((bytes[0] === 0xFF && bytes[1] === 0xFE) || (bytes[0] === 0xFE && bytes[1] === 0xFF) || bytes.includes(0)) {
    throw problem('This file is UTF-16 (or binary), not a UTF-8 CSV. In your spreadsheet, save it as "CSV UTF-8", then upload it again.')
  }
  // Checked natively, without making a 10 MB string.
  if (!isUtf8(bytes)) throw problem('This file is not UTF-8 text. In your spreadsheet, save it as "CSV UTF-8", then upload it again.')
  const [header, ...data] = await parseRecords(bytes)
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
  // A value an export defused comes back as it was (the quote mark before a formula-like value off).
  const cell = (record: string[], at: number | undefined): string => at === undefined ? '' : restored((record[at] ?? '').trim())
  const pause = createSlicer()
  const rows: ImportRow[] = []
  for (const [i, record] of data.entries()) {
    rows.push({
      line: i + 2,
      email: cell(record, index.email),
      firstName: cell(record, index.firstName),
      lastName: cell(record, index.lastName),
      groups: [...new Set(cell(record, index.groups).split(';').map((g) => g.trim()).filter((g) => g !== ''))]
    })
    await pause()
  }
  return { rows, ignoredColumns }
}

interface Deps {
  db: Knex
  clock: Clock
  outbox: Outbox
  accounts: Accounts
  groups: Groups
  invitations: Invitations
  /** Where a run's failure is reported (it runs beside the requests). */
  report: (err: unknown, what: string) => void
}

/**
 * CSV import: a preview of what each row would do (nothing written but the kept rows), then a
 * run in slices of 200 rows, each one transaction that checks its rows again, so no request and
 * no transaction holds the process or the database for long. Rows whose email already has an
 * account are skipped, so running a file again changes nothing new; a run that stopped halfway
 * goes on from its last slice. Only its creator may run an import or follow it.
 */
export function createCsvImport ({ db, clock, outbox, accounts, groups: groupService, invitations, report }: Deps) {
  const running = new Map<number, Promise<ImportResult>>()
  let stopping = false

  const ago = (ms: number): string => new Date(clock.now().getTime() - ms).toISOString()

  /** Groups by comparison key (look-alike names are one name). */
  async function groupsByKey (q: Knex | Knex.Transaction): Promise<Map<string, GroupRow & { name_normalized: string }>> {
    const rows: Array<GroupRow & { name_normalized: string }> = await q('groups').select('id', 'name', 'name_normalized', 'system_key')
    return new Map(rows.map((row) => [row.name_normalized, row]))
  }

  /** The states of the accounts these rows name, by normalized email. */
  async function existingAccounts (q: Knex | Knex.Transaction, rows: ImportRow[], pause: () => Promise<void> = yieldToOthers): Promise<Map<string, string>> {
    const emails = [...new Set(rows.map((r) => normalizeEmail(r.email)))]
    const existing = new Map<string, string>()
    for (let i = 0; i < emails.length; i += 500) {
      for (const [email, state] of await accountStatesByEmail(q, emails.slice(i, i + 500))) existing.set(email, state)
      await pause()
    }
    return existing
  }

  /**
   * What is wrong with each row whatever the database holds: its fields, its groups (Guests takes
   * no members, and an import never grants Administrators), an email already on an earlier line.
   */
  async function fileProblems (rows: ImportRow[], groups: Map<string, GroupRow>): Promise<Array<string | null>> {
    const seen = new Map<string, number>()
    const pause = createSlicer()
    const problems: Array<string | null> = []
    for (const row of rows) {
      const errors = Object.values(inviteErrors(row))
      for (const name of row.groups) {
        const group = groups.get(identifierKey(name))
        if (group?.system_key === 'guests') errors.push(GUESTS_TAKE_NO_MEMBERS)
        else if (group?.system_key === 'administrators') errors.push(NO_ADMINISTRATORS)
        else if (group === undefined) {
          const nameError = groupNameProblem(name)
          if (nameError !== null) errors.push(nameError)
        }
      }
      const email = normalizeEmail(row.email)
      const earlier = seen.get(email)
      if (errors.length === 0 && earlier !== undefined) errors.push(`This email is already on line ${earlier}.`)
      if (errors.length === 0) seen.set(email, row.line)
      problems.push(errors.length === 0 ? null : [...new Set(errors)].join(' '))
      await pause()
    }
    return problems
  }

  function outcomeOf (row: ImportRow, fileProblem: string | null, mode: ImportMode, existing: Map<string, string>): PreviewRow {
    if (fileProblem !== null) return { ...row, outcome: 'invalid', reason: fileProblem }
    const state = existing.get(normalizeEmail(row.email))
    if (state !== undefined) return { ...row, outcome: 'exists', reason: state === 'pending' ? 'invited, not yet accepted' : state }
    return { ...row, outcome: mode, reason: null }
  }

  /** Adds to `fresh` the groups the run would create: named by a row it would create, not existing yet (create mode only). */
  async function addGroupsToCreate (rows: PreviewRow[], groups: Map<string, GroupRow>, fresh: Map<string, string>): Promise<void> {
    const pause = createSlicer()
    for (const row of rows) {
      if (row.outcome !== 'create') continue
      for (const name of row.groups) {
        const key = identifierKey(name)
        if (!groups.has(key) && !fresh.has(key)) fresh.set(key, name)
      }
      await pause()
    }
  }

  /** Reads the file and says what each row would do; keeps the rows (not the file) for the run. */
  async function preview (file: Buffer, fileName: string, mode: ImportMode, actor: Actor & { id: number }): Promise<ImportPreview> {
    const { rows, ignoredColumns } = await parseImportFile(file)
    const groups = await groupsByKey(db)
    const problems = await fileProblems(rows, groups)
    const existing = await existingAccounts(db, rows)
    const previewed: PreviewRow[] = []
    const counts: Record<RowOutcome, number> = { create: 0, invite: 0, exists: 0, invalid: 0 }
    const pause = createSlicer()
    for (const [i, row] of rows.entries()) {
      const outcome = outcomeOf(row, problems[i], mode, existing)
      previewed.push(outcome)
      counts[outcome.outcome]++
      await pause()
    }

    await db('csv_imports').where('created_at', '<', ago(KEPT_MS)).whereNot('status', 'running').del()
    await db('csv_imports').where('created_at', '<', ago(IMPORT_TTL_MS)).whereIn('status', ['previewing', 'previewed']).del()
    const [inserted] = await db('csv_imports').insert({
      created_by: actor.id, mode, file_name: fileName.slice(0, 300), status: 'previewing', ignored_columns: JSON.stringify(ignoredColumns), total_rows: rows.length, created_at: isoNow(clock)
    }).returning('id')
    const id: number = typeof inserted === 'object' ? inserted.id : inserted
    // The rows in statements of 500, other work running between them; usable once all are in.
    for (let i = 0; i < rows.length; i += INSERT_BATCH) {
      await db('csv_import_rows').insert(rows.slice(i, i + INSERT_BATCH).map((row, j) => ({
        import_id: id, line: row.line, email: row.email, first_name: row.firstName, last_name: row.lastName, groups: JSON.stringify(row.groups), problem: problems[i + j]
      })))
      await yieldToOthers()
    }
    await db('csv_imports').where('id', id).update({ status: 'previewed' })
    const fresh = new Map<string, string>()
    if (mode === 'create') await addGroupsToCreate(previewed, groups, fresh)
    return { id, mode, fileName, rows: previewed, counts, newGroups: [...fresh.values()], ignoredColumns }
  }

  /** The import, if it exists and is this administrator's (anyone else is told it does not exist). */
  async function ownImport (id: number, actor: Actor): Promise<StoredImport> {
    const kept: StoredImport | undefined = await db('csv_imports').where('id', id).first()
    if (kept === undefined || kept.created_by !== actor.id) throw new NotFound(GONE)
    return kept
  }

  function progressOf (kept: StoredImport): ImportProgress {
    const status: ImportStatus = kept.status === 'done' || kept.status === 'failed' ? kept.status : 'running'
    return {
      id: kept.id,
      mode: kept.mode,
      status,
      stalled: status === 'running' && (kept.heartbeat_at === null || kept.heartbeat_at < ago(STALLED_MS)),
      totalRows: kept.total_rows,
      doneRows: kept.done_rows,
      created: kept.created,
      invited: kept.invited,
      skipped: kept.skipped,
      error: kept.error,
      finishedAt: kept.finished_at
    }
  }

  /** Runs the claimed import's remaining slices; each one a transaction that checks its rows again. */
  async function runSlices (kept: StoredImport, token: string, actor: Actor): Promise<ImportResult> {
    const { id, mode } = kept
    const groups = await groupsByKey(db)
    let doneLine = kept.done_line
    if (mode === 'create') {
      // The groups the rows still to do name, created first, in one transaction.
      const fresh = new Map<string, string>()
      for (let after = doneLine; ;) {
        const page: StoredRow[] = await db('csv_import_rows').where('import_id', id).where('line', '>', after).whereNull('problem').orderBy('line').limit(5000)
          .select('line', 'email', 'first_name', 'last_name', 'groups', 'problem')
        if (page.length === 0) break
        after = page[page.length - 1].line
        await addGroupsToCreate(page.map((row) => ({ ...toRow(row), outcome: 'create' as const, reason: null })), groups, fresh)
      }
      if (fresh.size > 0) {
        await db.transaction(async (trx) => {
          const created = await groupService.createIn(trx, [...fresh.values()].map((name) => ({ name, description: '' })), actor, { imported: true })
          const keys = [...fresh.keys()]
          created.forEach((group, i) => { groups.set(keys[i], { id: group.id, name: group.name, name_normalized: keys[i], system_key: null }) })
        })
      }
    }
    const developers = [...groups.values()].find((g) => g.system_key === 'developers')
    if (developers === undefined) throw new Refused('The Developers group is missing.')
    // Every group a row names exists by now (checked in the preview, created above).
    const groupIds = (row: ImportRow): number[] => [...new Set([developers.id, ...row.groups.map((name) => groups.get(identifierKey(name))?.id ?? developers.id)])]

    for (;;) {
      if (stopping) return { created: 0, invited: 0, skipped: 0, alreadyRun: false }
      const slice: StoredRow[] = await db('csv_import_rows').where('import_id', id).where('line', '>', doneLine).orderBy('line').limit(ROWS_PER_SLICE)
        .select('line', 'email', 'first_name', 'last_name', 'groups', 'problem')
      if (slice.length === 0) break
      doneLine = slice[slice.length - 1].line
      await db.transaction(async (trx) => {
        const rows = slice.map(toRow)
        const existing = await existingAccounts(trx, rows, async () => {})
        const outcomes = rows.map((row, i) => outcomeOf(row, slice[i].problem, mode, existing))
        const toWrite = outcomes.filter((row) => row.outcome === mode)
        if (mode === 'create') {
          await accounts.createActiveIn(trx, toWrite.map((row) => ({ input: row, groupIds: groupIds(row), details: { imported: true } })), { actor, mail: 'password-link' })
        }
        else await invitations.inviteNew(trx, toWrite, actor)
        const done = await trx('csv_imports').where({ id, run_token: token }).update({
          done_line: doneLine,
          done_rows: trx.raw('done_rows + ?', [slice.length]),
          [mode === 'create' ? 'created' : 'invited']: trx.raw(`${mode === 'create' ? 'created' : 'invited'} + ?`, [toWrite.length]),
          skipped: trx.raw('skipped + ?', [slice.length - toWrite.length]),
          heartbeat_at: isoNow(clock)
        })
        // Taken over by another run (this one had stalled): the slice is rolled back, left to it.
        if (done === 0) throw new TakenOver()
      })
      await yieldToOthers()
    }
    await db('csv_imports').where({ id, run_token: token }).update({ status: 'done', finished_at: isoNow(clock) })
    const finished = await ownImport(id, actor)
    return { created: finished.created, invited: finished.invited, skipped: finished.skipped, alreadyRun: false }
  }

  function toRow (row: StoredRow): ImportRow {
    return { line: row.line, email: row.email, firstName: row.first_name, lastName: row.last_name, groups: JSON.parse(row.groups) as string[] }
  }

  /**
   * Starts (or resumes) a previewed import: claims it in one conditional UPDATE, so however many
   * requests ask, one run goes. Answers the run, which settles with its result when it ends (an
   * import already done answers `alreadyRun` at once), or null when another instance runs it:
   * its page follows it (`progress`).
   */
  async function start (id: number, actor: Actor): Promise<{ id: number, run: Promise<ImportResult> | null }> {
    const kept = await ownImport(id, actor)
    if (kept.status === 'previewing' || (kept.status === 'previewed' && kept.created_at < ago(IMPORT_TTL_MS))) throw new NotFound(GONE)
    if (kept.status === 'done') return { id, run: Promise.resolve({ created: kept.created, invited: kept.invited, skipped: kept.skipped, alreadyRun: true }) }
    const already = running.get(id)
    if (already !== undefined) return { id, run: already }
    await outbox.requireEnabled(kept.mode === 'invite' ? 'invitation' : 'account-created')
    const token = randomBytes(16).toString('hex')
    const claimed = await db('csv_imports').where('id', id)
      .where((w) => { void w.whereIn('status', ['previewed', 'failed']).orWhere((s) => { void s.where('status', 'running').where('heartbeat_at', '<', ago(STALLED_MS)) }) })
      .update({ status: 'running', run_token: token, heartbeat_at: isoNow(clock), error: null, ran_at: isoNow(clock) })
    if (claimed === 0) {
      // Another instance runs it, or has just finished it.
      const now = await ownImport(id, actor)
      return { id, run: now.status === 'done' ? Promise.resolve({ created: now.created, invited: now.invited, skipped: now.skipped, alreadyRun: true }) : null }
    }
    const run = runSlices({ ...kept, done_line: (await ownImport(id, actor)).done_line }, token, actor).catch(async (err: unknown) => {
      if (err instanceof TakenOver) return { created: 0, invited: 0, skipped: 0, alreadyRun: true }
      report(err, `CSV import ${id} failed`)
      const message = err instanceof Error && 'statusCode' in err ? err.message : 'The import stopped on an unexpected error. What was done is kept; resume it to go on.'
      await db('csv_imports').where({ id, run_token: token }).update({ status: 'failed', error: message.slice(0, 1000) })
      throw err
    }).finally(() => { running.delete(id) })
    running.set(id, run)
    return { id, run }
  }

  async function progress (id: number, actor: Actor): Promise<ImportProgress> {
    const kept = await ownImport(id, actor)
    if (kept.status === 'previewing' || kept.status === 'previewed') throw new NotFound('This import has not been run yet: run it from its preview.')
    return progressOf(kept)
  }

  /** On close: runs stop after their current slice (resumable from their page), and are waited for. */
  async function stop (): Promise<void> {
    stopping = true
    await Promise.allSettled([...running.values()])
  }

  return { preview, start, progress, stop }
}

export type CsvImport = ReturnType<typeof createCsvImport>
