import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { simpleParser, type ParsedMail } from 'mailparser'

interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** A free loopback port, for a server that is started later (SMTP "down, then up"). */
export async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

export interface TestSmtp {
  port: number
  url: string
  messages: ParsedMail[]
  /** Resolves once `count` messages have arrived (fails after `ms`). */
  waitFor: (count: number, ms?: number) => Promise<ParsedMail[]>
  /** Resolves with the messages whose subject matches, once there are `count` of them. */
  waitForSubject: (subject: RegExp, count?: number, ms?: number) => Promise<ParsedMail[]>
  close: () => Promise<void>
}

/** A real SMTP server on loopback (smtp-server), parsing what it receives with mailparser. */
/** `acceptAfterMs`: the server takes this long to accept each message (a slow server). */
export async function startSmtp (t: Teardown, port = 0, acceptAfterMs = 0): Promise<TestSmtp> {
  const messages: ParsedMail[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData (stream, _session, callback) {
      simpleParser(stream).then((mail) => { setTimeout(() => { messages.push(mail); callback() }, acceptAfterMs) }, callback)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const actual = (server.server.address() as AddressInfo).port
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)
  async function waitFor (count: number, ms = 10_000): Promise<ParsedMail[]> {
    const deadline = Date.now() + ms
    while (messages.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} emails, got ${messages.length}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return messages
  }
  async function waitForSubject (subject: RegExp, count = 1, ms = 10_000): Promise<ParsedMail[]> {
    const deadline = Date.now() + ms
    for (;;) {
      const matching = messages.filter((m) => subject.test(m.subject ?? ''))
      if (matching.length >= count) return matching
      if (Date.now() > deadline) throw new Error(`expected ${count} emails with subject ${String(subject)}, got ${matching.length}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  return { port: actual, url: `smtp://127.0.0.1:${actual}`, messages, waitFor, waitForSubject, close }
}

/** The link to PUBLIC_URL/<prefix>/<token> in an email's text. */
export function linkIn (mail: ParsedMail, prefix: string): string {
  const match = new RegExp(`https?://\\S+/${prefix}/[A-Za-z0-9_-]{43}`).exec(mail.text ?? '')
  if (match === null) throw new Error(`no /${prefix}/ link in: ${mail.text ?? ''}`)
  return match[0]
}
