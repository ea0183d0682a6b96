import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Knex } from 'knex'
import { viewsDir } from '../../paths'
import type { Actor, EventAction, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { NotFound, throwIfInvalid } from '../kernel/errors'

export const TEMPLATE_NAMES = ['invitation', 'signup-confirmation', 'welcome', 'password-reset', 'farewell', 'subscription-request', 'subscription-approved',
  'subscription-declined', 'quota-approaching', 'account-exists', 'email-change', 'email-change-notice', 'account-created', 'key-regenerated', 'mfa-reset', 'organisation-invitation'] as const
export type TemplateName = typeof TEMPLATE_NAMES[number]

interface TemplateInfo {
  referenceName: string
  sentWhen: string
  placeholders: readonly string[]
}

const COMMON = ['DevFirstName', 'DevLastName', 'OrganizationName', 'DevPortalUrl'] as const

export const TEMPLATE_INFO: Record<TemplateName, TemplateInfo> = {
  invitation: { referenceName: 'Invite user', sentWhen: 'an admin invites a developer', placeholders: [...COMMON, 'ConfirmUrl', 'ExpiresAt'] },
  'signup-confirmation': { referenceName: 'New developer account confirmation', sentWhen: 'a developer signs up', placeholders: [...COMMON, 'ConfirmUrl'] },
  welcome: { referenceName: 'Developer welcome letter', sentWhen: 'an account becomes active', placeholders: [...COMMON, 'DevEmail'] },
  'password-reset': { referenceName: 'Password change confirmation', sentWhen: 'a developer asks for a password reset', placeholders: [...COMMON, 'ConfirmUrl'] },
  farewell: { referenceName: 'Developer farewell letter', sentWhen: 'an account is deleted', placeholders: [...COMMON] },
  'subscription-request': {
    referenceName: 'New subscription request',
    sentWhen: 'a developer asks for a product that needs approval (sent to every administrator)',
    placeholders: [...COMMON, 'DevEmail', 'ProdName', 'SubscriptionName', 'AdminUrl']
  },
  'subscription-approved': { referenceName: 'Subscription request approved', sentWhen: 'a subscription becomes active through an administrator', placeholders: [...COMMON, 'ProdName', 'SubscriptionName'] },
  'subscription-declined': { referenceName: 'Subscription request declined', sentWhen: 'an administrator rejects a subscription request', placeholders: [...COMMON, 'ProdName', 'SubscriptionName', 'Reason'] },
  'quota-approaching': { referenceName: 'Developer quota limit approaching', sentWhen: 'a subscription passes 90% of its quota in a period', placeholders: [...COMMON, 'ProdName', 'SubscriptionName', 'QuotaCalls', 'ResetsAt'] },
  // Two more than the reference product has: sign-up must not reveal a taken email, and an email
  // change is confirmed at the new address.
  'account-exists': { referenceName: 'Sign-up attempt notice', sentWhen: 'someone signs up with the email of an existing account', placeholders: [...COMMON, 'DevEmail'] },
  'email-change': { referenceName: 'Email change confirmation', sentWhen: 'a developer changes their email address', placeholders: [...COMMON, 'ConfirmUrl'] },
  // The old address hears of a change, so an intruder with a session cannot take the account quietly.
  // Accounts created by a CSV import have no password: this email's link sets one.
  'account-created': { referenceName: 'Account created: choose a password', sentWhen: 'a CSV import creates an active account', placeholders: [...COMMON, 'DevEmail', 'ConfirmUrl', 'ExpiresAt'] },
  // An administrator renewed a key for support: the owner's software needs the new one.
  'key-regenerated': { referenceName: 'Subscription key regenerated', sentWhen: 'an administrator regenerates a key of the developer\'s subscription', placeholders: [...COMMON, 'ProdName', 'SubscriptionName', 'KeyName'] },
  // Two-step sign-in was reset for a lost phone: if the owner did not ask for it, they should know.
  'mfa-reset': { referenceName: 'Two-step sign-in reset', sentWhen: 'an administrator resets a developer\'s two-step sign-in', placeholders: [...COMMON, 'DevEmail'] },
  'organisation-invitation': { referenceName: 'Invitation to join an organisation', sentWhen: 'an owner invites an existing developer to their organisation', placeholders: [...COMMON, 'OrgName', 'InviterName', 'ConfirmUrl', 'ExpiresAt'] },
  'email-change-notice': { referenceName: 'Email change notice', sentWhen: 'a developer asks to change their email address (sent to the old one)', placeholders: [...COMMON, 'NewEmail', 'PasswordResetUrl'] }
}

// Placeholders whose values are links: in the HTML part they become <a> elements.
const URL_PLACEHOLDERS = new Set(['ConfirmUrl', 'DevPortalUrl', 'PasswordResetUrl', 'AdminUrl'])

export const SUBJECT_MAX_LENGTH = 200
export const BODY_MAX_LENGTH = 20_000

export type TemplateValues = Partial<Record<string, string>>

export interface EmailTemplate {
  name: TemplateName
  subject: string
  body: string
  enabled: boolean
  customized: boolean
  updatedAt: string | null
}

export interface RenderedEmail {
  subject: string
  text: string
  html: string
}

export function isTemplateName (name: string): name is TemplateName {
  return (TEMPLATE_NAMES as readonly string[]).includes(name)
}

/** The default text of a template: views/emails/NAME.txt, a `Subject:` line, a blank line, the body. */
function defaultTemplate (name: TemplateName): { subject: string, body: string } {
  const file = readFileSync(join(viewsDir, 'emails', `${name}.txt`), 'utf8')
  const [first, ...rest] = file.split('\n')
  return { subject: first.replace(/^Subject:\s*/, ''), body: rest.join('\n').replace(/^\n+/, '').replace(/\n+$/, '\n') }
}

const DEFAULTS = Object.fromEntries(TEMPLATE_NAMES.map((name) => [name, defaultTemplate(name)])) as Record<TemplateName, { subject: string, body: string }>

const PLACEHOLDER = /\$([A-Za-z]+)/g

export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Placeholders used in a text that the template does not know. */
export function unknownPlaceholders (name: TemplateName, text: string): string[] {
  const known = new Set(TEMPLATE_INFO[name].placeholders)
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((p) => !known.has(p)))]
}

/**
 * `$Placeholder` substitution and nothing else: the admin's text is never evaluated, so `<%= … %>`
 * or `${…}` in it arrive literally. In the HTML part every piece, text and value alike, is escaped.
 */
function substitute (template: string, values: TemplateValues): { text: string, html: string } {
  let text = ''
  let html = ''
  let last = 0
  for (const match of template.matchAll(PLACEHOLDER)) {
    const literal = template.slice(last, match.index)
    text += literal
    html += escapeHtml(literal)
    const value = values[match[1]]
    if (value === undefined) {
      text += match[0]
      html += escapeHtml(match[0])
    } else {
      text += value
      html += URL_PLACEHOLDERS.has(match[1]) ? `<a href="${escapeHtml(value)}">${escapeHtml(value)}</a>` : escapeHtml(value)
    }
    last = match.index + match[0].length
  }
  const rest = template.slice(last)
  return { text: text + rest, html: html + escapeHtml(rest) }
}

export function renderTemplate (subject: string, body: string, values: TemplateValues): RenderedEmail {
  const renderedSubject = substitute(subject, values).text.replace(/\s+/g, ' ').trim()
  const { text, html } = substitute(body, values)
  const paragraphs = html.split(/\n{2,}/).map((p) => p.trim()).filter((p) => p !== '').map((p) => `<p>${p.replace(/\n/g, '<br>\n')}</p>`)
  return {
    subject: renderedSubject,
    text,
    html: `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(renderedSubject)}</title></head>\n<body style="font-family: -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; font-size: 15px; line-height: 1.5; color: #1c2333; max-width: 40em">\n${paragraphs.join('\n')}\n</body></html>\n`
  }
}

/** Sample values for the preview on the template page. */
export function sampleValues (orgName: string, publicUrl: string): TemplateValues {
  return {
    DevFirstName: 'Ada',
    DevLastName: 'Lovelace',
    DevEmail: 'ada@example.com',
    OrganizationName: orgName,
    ConfirmUrl: `${publicUrl}/invitations/SAMPLE-TOKEN`,
    DevPortalUrl: `${publicUrl}/`,
    ExpiresAt: '2026-01-01 12:00 UTC',
    NewEmail: 'ada.new@example.com',
    PasswordResetUrl: `${publicUrl}/password-reset`
  }
}

interface TemplateRow {
  name: TemplateName
  subject: string | null
  body: string | null
  enabled: boolean | number
  updated_at: string
}

export function createTemplates ({ db, clock, events }: { db: Knex, clock: Clock, events: Events }) {
  function fromRow (name: TemplateName, row: TemplateRow | undefined): EmailTemplate {
    const defaults = DEFAULTS[name]
    return {
      name,
      subject: row?.subject ?? defaults.subject,
      body: row?.body ?? defaults.body,
      enabled: row === undefined ? true : Boolean(row.enabled),
      customized: row?.subject != null || row?.body != null,
      updatedAt: row?.updated_at ?? null
    }
  }

  async function getTemplate (name: string, trx: Knex | Knex.Transaction = db): Promise<EmailTemplate> {
    if (!isTemplateName(name)) throw new NotFound('There is no email template with this name.')
    return fromRow(name, await trx('email_templates').where('name', name).first())
  }

  async function listTemplates (): Promise<EmailTemplate[]> {
    const rows: TemplateRow[] = await db('email_templates').select()
    return TEMPLATE_NAMES.map((name) => fromRow(name, rows.find((row) => row.name === name)))
  }

  async function store (name: TemplateName, fields: Partial<TemplateRow>, actor: Actor, action: EventAction): Promise<void> {
    await db.transaction(async (trx) => {
      const row = { ...fields, name, updated_at: isoNow(clock), updated_by: actor.id }
      await trx('email_templates').insert({ enabled: true, ...row }).onConflict('name').merge(Object.keys(row))
      await events.record(trx, { actor, action, target: { type: 'email-template', id: null, label: name } })
    })
  }

  /** Saves an admin's text; unknown placeholders and over-long text are refused beside the field. */
  async function saveTemplate (name: string, input: { subject: string, body: string, enabled: boolean }, actor: Actor): Promise<EmailTemplate> {
    const template = await getTemplate(name)
    const errors: Record<string, string> = {}
    const subject = input.subject.trim()
    const body = input.body.replace(/\r\n/g, '\n')
    if (subject === '') errors.subject = 'Enter a subject.'
    else if (subject.length > SUBJECT_MAX_LENGTH) errors.subject = `The subject can be at most ${SUBJECT_MAX_LENGTH} characters.`
    if (body.trim() === '') errors.body = 'Enter the text of the email.'
    else if (body.length > BODY_MAX_LENGTH) errors.body = `The text can be at most ${BODY_MAX_LENGTH} characters.`
    for (const [field, text] of [['subject', subject], ['body', body]] as const) {
      const unknown = unknownPlaceholders(template.name, text)
      if (unknown.length > 0 && errors[field] === undefined) {
        errors[field] = `Unknown placeholder${unknown.length > 1 ? 's' : ''}: ${unknown.map((p) => `$${p}`).join(', ')}. This template knows ${TEMPLATE_INFO[template.name].placeholders.map((p) => `$${p}`).join(', ')}.`
      }
    }
    throwIfInvalid(errors)
    await store(template.name, { subject, body, enabled: input.enabled }, actor, 'template.edited')
    return await getTemplate(template.name)
  }

  async function resetTemplate (name: string, actor: Actor): Promise<void> {
    const template = await getTemplate(name)
    await store(template.name, { subject: null, body: null }, actor, 'template.reset')
  }

  return { getTemplate, listTemplates, saveTemplate, resetTemplate }
}

export type Templates = ReturnType<typeof createTemplates>
