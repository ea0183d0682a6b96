import type { Knex } from 'knex'
import { isoNow, type Clock } from '../clock'
import { Refused } from '../errors'
import { pageOf, type Page } from '../pages'
import type { Settings } from '../settings'
import { displayName } from '../account-rows'
import { renderTemplate, TEMPLATE_INFO, type TemplateName, type TemplateValues, type Templates } from './templates'

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

export function createOutbox ({ clock, templates, settings, publicUrl, onQueued }: OutboxDeps) {
  /**
   * Writes an email to the outbox inside the caller's transaction, so the email exists exactly when
   * the change that causes it does. Returns null when the template is switched off.
   */
  async function queueEmail (trx: Knex.Transaction, name: TemplateName, to: Recipient, values: TemplateValues = {}): Promise<number | null> {
    const template = await templates.getTemplate(name, trx)
    if (!template.enabled) return null
    const rendered = renderTemplate(template.subject, template.body, {
      DevFirstName: to.firstName,
      DevLastName: to.lastName,
      DevEmail: to.email,
      OrganizationName: (await settings.getSettings(trx)).orgName,
      DevPortalUrl: `${publicUrl}/`,
      ...values
    })
    const now = isoNow(clock)
    const [row] = await trx('outbox_emails').insert({
      template: name,
      developer_id: to.id,
      to_address: to.email,
      to_name: displayName(to),
      subject: rendered.subject,
      text_body: rendered.text,
      html_body: rendered.html,
      status: 'queued',
      attempts: 0,
      next_attempt_at: now,
      created_at: now
    }).returning('id')
    if (onQueued !== undefined) trx.executionPromise.then(onQueued, () => undefined)
    return typeof row === 'object' ? row.id : row
  }

  /** For emails a flow cannot do without (an invitation link): refuse when the template is off. */
  async function queueRequiredEmail (trx: Knex.Transaction, name: TemplateName, to: Recipient, values: TemplateValues): Promise<number> {
    const id = await queueEmail(trx, name, to, values)
    if (id === null) throw new Refused(`The "${TEMPLATE_INFO[name].referenceName}" email is switched off, so its link cannot be sent. Switch it on in Email templates first.`)
    return id
  }

  return { queueEmail, queueRequiredEmail }
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

/** The outbox, newest first, a page at a time. */
export async function listEmails (db: Knex, page: number | undefined): Promise<Page<OutboxEmail>> {
  return await pageOf(db('outbox_emails'), page, EMAILS_PAGE_SIZE, async (query) => {
    const rows: OutboxRow[] = await query.orderBy('id', 'desc').select()
    return rows.map(toEmail)
  })
}

export async function findEmail (db: Knex, id: number): Promise<OutboxEmail | null> {
  const row: OutboxRow | undefined = await db('outbox_emails').where('id', id).first()
  return row === undefined ? null : toEmail(row)
}

/** Emails that need an admin's eye: failed for good, or still waiting to go out. */
export async function countEmailProblems (db: Knex): Promise<{ failed: number, waiting: number }> {
  const rows: Array<{ status: EmailStatus, n: number | string }> = await db('outbox_emails').whereIn('status', ['failed', 'queued']).select('status').count({ n: '*' }).groupBy('status')
  const count = (status: EmailStatus): number => Number(rows.find((row) => row.status === status)?.n ?? 0)
  return { failed: count('failed'), waiting: count('queued') }
}
