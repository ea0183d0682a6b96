import type { Knex } from 'knex'
import nodemailer from 'nodemailer'
import { isoNow, type Clock } from '../kernel/clock'
import type { Sealer } from '../kernel/sealer'
import { unsealBodies } from './outbox'

export const MAX_ATTEMPTS = 10
const FIRST_RETRY_MS = 5_000
const MAX_RETRY_MS = 10 * 60_000
// How long a claim on an email holds; a sender that died mid-send loses it after this.
const CLAIM_MS = 2 * 60_000
const BATCH = 50

/** The part of a nodemailer transport the sender uses. */
export interface MailTransport {
  sendMail: (message: { from: string, to: { name: string, address: string }, subject: string, text: string, html: string }) => Promise<unknown>
  close?: () => void
}

export interface SenderDeps {
  db: Knex
  clock: Clock
  transport: MailTransport | null
  from: string
  /** Opens the sealed links; they are dropped from the row once the email is delivered. */
  sealer: Sealer
  onError?: (err: unknown) => void
}

/** Delay before attempt n+1 after n failed attempts: 5 s, 10 s, 20 s … capped at 10 minutes. */
export function retryDelayMs (failedAttempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** (failedAttempts - 1), MAX_RETRY_MS)
}

/** Emails sent at once, over as many pooled SMTP connections. */
const CONCURRENCY = 5

/** Pooled SMTP connections (nodemailer's `pool`), reused from one email to the next. */
export function createTransport (smtpUrl: string | null): MailTransport | null {
  if (smtpUrl === null) return null
  const url = new URL(smtpUrl)
  if (!url.searchParams.has('pool')) url.searchParams.set('pool', 'true')
  if (!url.searchParams.has('maxConnections')) url.searchParams.set('maxConnections', String(CONCURRENCY))
  return nodemailer.createTransport(url.toString())
}

interface DueRow {
  id: number
  to_address: string
  to_name: string
  subject: string
  text_body: string
  html_body: string
  sealed_links: string | null
  attempts: number
}

/**
 * Delivers the outbox. Each email is claimed with one conditional UPDATE before it is sent, so two
 * Portico processes on one database never both send it. Failures are retried with exponential
 * backoff; after MAX_ATTEMPTS the email is marked failed with the SMTP error. Without a transport
 * (no SMTP_URL) nothing is sent and emails wait in the outbox, readable by admins.
 */
export function createMailSender ({ db, clock, transport, from, sealer, onError }: SenderDeps) {
  let timer: NodeJS.Timeout | null = null
  let running: Promise<number> | null = null
  let again = false
  let stopped = true

  async function claim (row: DueRow): Promise<boolean> {
    const now = isoNow(clock)
    const claimed = await db('outbox_emails')
      .where('id', row.id)
      .where('attempts', row.attempts)
      .where((q) => {
        void q.where('status', 'queued').orWhere((s) => { void s.where('status', 'sending').where('locked_until', '<=', now) })
      })
      .update({ status: 'sending', attempts: row.attempts + 1, locked_until: new Date(clock.now().getTime() + CLAIM_MS).toISOString() })
    return claimed === 1
  }

  async function deliver (row: DueRow): Promise<void> {
    if (transport === null || !(await claim(row))) return
    const attempts = row.attempts + 1
    const bodies = unsealBodies(row, sealer)
    if (bodies === null) {
      await db('outbox_emails').where('id', row.id).update({
        status: 'failed', locked_until: null, last_error: 'The link in this email cannot be opened: KEY_SECRET is not the one it was written with.'
      })
      return
    }
    try {
      await transport.sendMail({ from, to: { name: row.to_name, address: row.to_address }, subject: bodies.subject, text: bodies.text, html: bodies.html })
      // Delivered: the live link leaves the database; the record of the email stays.
      await db('outbox_emails').where('id', row.id).update({ status: 'sent', sent_at: isoNow(clock), locked_until: null, last_error: null, sealed_links: null })
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).slice(0, 2000)
      const failed = attempts >= MAX_ATTEMPTS
      await db('outbox_emails').where('id', row.id).update({
        status: failed ? 'failed' : 'queued',
        locked_until: null,
        last_error: message,
        next_attempt_at: new Date(clock.now().getTime() + (failed ? 0 : retryDelayMs(attempts))).toISOString()
      })
    }
  }

  /** Sends every email that is due now; returns how many were looked at. */
  async function sendDue (): Promise<number> {
    if (transport === null) return 0
    let seen = 0
    for (;;) {
      const now = isoNow(clock)
      const due: DueRow[] = await db('outbox_emails')
        .where((q) => {
          void q.where((s) => { void s.where('status', 'queued').where('next_attempt_at', '<=', now) })
            .orWhere((s) => { void s.where('status', 'sending').where('locked_until', '<=', now) })
        })
        .orderBy('id')
        .limit(BATCH)
        .select('id', 'to_address', 'to_name', 'subject', 'text_body', 'html_body', 'sealed_links', 'attempts')
      // A few at a time, each claimed alone: a slow server is not waited on one email after another.
      for (let i = 0; i < due.length; i += CONCURRENCY) await Promise.all(due.slice(i, i + CONCURRENCY).map(deliver))
      seen += due.length
      if (due.length < BATCH) return seen
    }
  }

  /** One pass at a time; a poke during a pass asks for another right after it. */
  async function flush (): Promise<number> {
    if (running !== null) {
      again = true
      return await running
    }
    running = (async () => {
      let total = 0
      do {
        again = false
        total += await sendDue()
      } while (again)
      return total
    })()
    try {
      return await running
    } finally {
      running = null
    }
  }

  function poke (): void {
    if (stopped) return
    flush().catch((err: unknown) => onError?.(err))
  }

  /** Polls for due emails (retries, other instances' mail) every `intervalMs`. */
  function start (intervalMs: number): void {
    if (transport === null) return
    stopped = false
    const tick = (): void => {
      flush().catch((err: unknown) => onError?.(err)).finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs).unref()
      })
    }
    tick()
  }

  async function stop (): Promise<void> {
    stopped = true
    if (timer !== null) clearTimeout(timer)
    timer = null
    if (running !== null) await running.catch(() => undefined)
    transport?.close?.()
  }

  return { flush, poke, start, stop, enabled: transport !== null }
}

export type MailSender = ReturnType<typeof createMailSender>
