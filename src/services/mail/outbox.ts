import type { Knex } from 'knex'
import { isoNow, type Clock } from '../kernel/clock'
import { Refused } from '../kernel/errors'
import { pageOf, type Page } from '../../db/paging'
import type { Settings } from '../settings/settings'
import { displayName } from '../accounts/account-store'
import type { Sealer } from '../kernel/sealer'
import { escapeHtml, renderTemplate, TEMPLATE_INFO, type TemplateName, type TemplateValues, type Templates } from './templates'

export interface Recipient {
  id: number
  email: string
  firstName: string
  lastName: string
}

export interface OutboxDeps {
  clock: Clock
  templates: Templates
  settings: Settings
  publicUrl: string
  /** Seals the single-use links in emails (KEY_SECRET) until they are delivered. */
  sealer: Sealer
  /** Called after a transaction that queued mail has committed, so delivery starts at once. */
  onQueued?: () => void
}

export type EmailStatus = 'queued' | 'sending' | 'sent' | 'failed'

export interface OutboxEmail {
  id: number
  template: string
  developerId: number | null
  toAddress: string
  toName: string
  subject: string
  textBody: string
  htmlBody: string
  status: EmailStatus
  attempts: number
  nextAttemptAt: string
  lastError: string | null
  createdAt: string
  sentAt: string | null
}

// Placeholders whose values are live single-use links: never stored in clear.
const SECRET_PLACEHOLDERS = ['ConfirmUrl'] as const
type SealedLinks = Partial<Record<typeof SECRET_PLACEHOLDERS[number], string>>

/** What stands in the stored body where a sealed link goes; replaced when the email is sent. */
function markOf (name: string): string {
  return `[sealed link ${name}]`
}

/** Each sealed link's mark replaced: by the link itself for sending, or by a note for display. */
function replaceMarks (text: string, html: string, replacement: (name: keyof SealedLinks) => string): { text: string, html: string } {
  let t = text
  let h = html
  for (const name of SECRET_PLACEHOLDERS) {
    const value = replacement(name)
    t = t.replaceAll(markOf(name), value)
    h = h.replaceAll(escapeHtml(markOf(name)), escapeHtml(value))
  }
  return { text: t, html: h }
}

/** The email as it goes to the recipient, links unsealed; null when the links cannot be opened. */
export function unsealBodies (row: { subject: string, text_body: string, html_body: string, sealed_links: string | null }, sealer: Sealer): { subject: string, text: string, html: string } | null {
  if (row.sealed_links === null) return { subject: row.subject, text: row.text_body, html: row.html_body }
  const opened = sealer.open(row.sealed_links)
  if (opened === null) return null
  const links = JSON.parse(opened) as SealedLinks
  const link = (name: keyof SealedLinks): string => links[name] ?? ''
  return { subject: replaceMarks(row.subject, '', link).text, ...replaceMarks(row.text_body, row.html_body, link) }
}

export function createOutbox ({ clock, templates, settings, publicUrl, sealer, onQueued }: OutboxDeps) {
  /**
   * Writes an email to the outbox inside the caller's transaction, so the email exists exactly when
   * the change that causes it does. Returns null when the template is switched off.
   */
  async function queueEmail (trx: Knex.Transaction, name: TemplateName, to: Recipient, values: TemplateValues = {}): Promise<number | null> {
    return (await queueEmails(trx, name, [{ to, values }]))?.[0] ?? null
  }

  /** Many emails of one template (a bulk invitation), in few statements; null when it is switched off. */
  async function queueEmails (trx: Knex.Transaction, name: TemplateName, emails: Array<{ to: Recipient, values?: TemplateValues }>): Promise<number[] | null> {
    const template = await templates.getTemplate(name, trx)
    if (!template.enabled) return null
    const { orgName } = await settings.getSettings(trx)
    const now = isoNow(clock)
    const rows = emails.map(({ to, values = {} }) => {
      const links: SealedLinks = {}
      const marked: TemplateValues = { ...values }
      for (const placeholder of SECRET_PLACEHOLDERS) {
        const link = values[placeholder]
        if (link === undefined) continue
        links[placeholder] = link
        marked[placeholder] = markOf(placeholder)
      }
      const rendered = renderTemplate(template.subject, template.body, {
        DevFirstName: to.firstName,
        DevLastName: to.lastName,
        DevEmail: to.email,
        OrganizationName: orgName,
        DevPortalUrl: `${publicUrl}/`,
        ...marked
      })
      return {
        template: name,
        developer_id: to.id,
        to_address: to.email,
        to_name: displayName(to),
        subject: rendered.subject,
        text_body: rendered.text,
        html_body: rendered.html,
        sealed_links: Object.keys(links).length === 0 ? null : sealer.seal(JSON.stringify(links)),
        status: 'queued',
        attempts: 0,
        next_attempt_at: now,
        created_at: now
      }
    })
    const ids: number[] = []
    for (let i = 0; i < rows.length; i += 500) {
      const inserted = await trx('outbox_emails').insert(rows.slice(i, i + 500)).returning('id')
      ids.push(...inserted.map((row: number | { id: number }) => typeof row === 'object' ? row.id : row).sort((a, b) => a - b))
    }
    if (onQueued !== undefined) trx.executionPromise.then(onQueued, () => undefined)
    return ids
  }

  /** queueEmails for a flow that cannot do without its email: refused when the template is off. */
  async function queueRequiredEmails (trx: Knex.Transaction, name: TemplateName, emails: Array<{ to: Recipient, values?: TemplateValues }>): Promise<number[]> {
    const ids = await queueEmails(trx, name, emails)
    if (ids === null) throw switchedOff(name)
    return ids
  }

  function switchedOff (name: TemplateName): Refused {
    return new Refused(`The "${TEMPLATE_INFO[name].referenceName}" email is switched off, so its link cannot be sent. Switch it on in Email templates first.`)
  }

  /** For emails a flow cannot do without (an invitation link): refuse when the template is off. */
  async function queueRequiredEmail (trx: Knex.Transaction, name: TemplateName, to: Recipient, values: TemplateValues): Promise<number> {
    const id = await queueEmail(trx, name, to, values)
    if (id === null) throw switchedOff(name)
    return id
  }

  /** Refuses now, before anything is done, when a flow's required email is switched off. */
  async function requireEnabled (name: TemplateName): Promise<void> {
    if (!(await templates.getTemplate(name)).enabled) throw switchedOff(name)
  }

  return { queueEmail, queueEmails, queueRequiredEmail, queueRequiredEmails, requireEnabled }
}

export type Outbox = ReturnType<typeof createOutbox>

interface OutboxRow {
  id: number
  template: string
  developer_id: number | null
  to_address: string
  to_name: string
  subject: string
  text_body: string
  html_body: string
  status: EmailStatus
  attempts: number
  next_attempt_at: string
  last_error: string | null
  created_at: string
  sent_at: string | null
  sealed_links: string | null
}

function toEmail (row: OutboxRow): OutboxEmail {
  return {
    id: row.id,
    template: row.template,
    developerId: row.developer_id,
    toAddress: row.to_address,
    toName: row.to_name,
    subject: row.subject,
    textBody: row.text_body,
    htmlBody: row.html_body,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    createdAt: row.created_at,
    sentAt: row.sent_at
  }
}

export const EMAILS_PAGE_SIZE = 25

export interface EmailDisplay {
  /** Unseal invitation links for display: without SMTP the admin is how an invitation reaches anyone. */
  sealer: Sealer | null
}

/**
 * An email as an administrator may read it: the single-use links of password resets, sign-up and
 * email-change confirmations are never shown (they would let the reader act as that account);
 * invitation links only when `display.sealer` is given (no SMTP), until delivered.
 */
function forDisplay (row: OutboxRow, display: EmailDisplay): OutboxEmail {
  const opened = display.sealer !== null && row.template === 'invitation' ? unsealBodies(row, display.sealer) : null
  const note = row.sealed_links === null ? '[link removed after delivery]' : '[link hidden: only the recipient can open it]'
  const shown = opened ?? { subject: replaceMarks(row.subject, '', () => note).text, ...replaceMarks(row.text_body, row.html_body, () => note) }
  return { ...toEmail(row), subject: shown.subject, textBody: shown.text, htmlBody: shown.html }
}

/** The outbox, newest first, a page at a time. */
export async function listEmails (db: Knex, page: number | undefined): Promise<Page<OutboxEmail>> {
  return await pageOf(db('outbox_emails'), page, EMAILS_PAGE_SIZE, async (query) => {
    const rows: OutboxRow[] = await query.orderBy('id', 'desc').select()
    return rows.map((row) => forDisplay(row, { sealer: null }))
  })
}

export async function findEmail (db: Knex, id: number, display: EmailDisplay): Promise<OutboxEmail | null> {
  const row: OutboxRow | undefined = await db('outbox_emails').where('id', id).first()
  return row === undefined ? null : forDisplay(row, display)
}

/** Emails that need an admin's eye: failed for good, or still waiting to go out. */
export async function countEmailProblems (db: Knex): Promise<{ failed: number, waiting: number }> {
  const rows: Array<{ status: EmailStatus, n: number | string }> = await db('outbox_emails').whereIn('status', ['failed', 'queued']).select('status').count({ n: '*' }).groupBy('status')
  const count = (status: EmailStatus): number => Number(rows.find((row) => row.status === status)?.n ?? 0)
  return { failed: count('failed'), waiting: count('queued') }
}
