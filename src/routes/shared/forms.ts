import type { FastifyReply } from 'fastify'
import { Type, type Static, type TLiteral, type TOptional, type TProperties, type TSchema, type TString } from '@sinclair/typebox'
import type { Deferred } from '../../services/kernel/background-work'
import { Invalid, Refused } from '../../services/kernel/errors'

// Form fields: every value a bounded string. Checkboxes send "on" or nothing.
const CSRF_FIELD = Type.Optional(Type.String({ maxLength: 200 }))
type StringFields<F extends Record<string, number>> = { [K in keyof F]: TString }

/** A ticked checkbox sends "on"; an unticked one sends nothing. */
export function checkbox (): TOptional<TLiteral<'on'>> {
  return Type.Optional(Type.Literal('on'))
}

/**
 * A form body schema, declared once: each field of `fields` a required string of at most that many
 * characters, `extra` as given (optional fields, checkboxes), the CSRF token, and nothing else. Its
 * TypeScript type is `FormBody<typeof schema>`.
 */
export function formSchema<F extends Record<string, number>, E extends TProperties = Record<never, TSchema>> (fields: F, extra?: E) {
  const strings: Record<string, TString> = {}
  for (const [name, maxLength] of Object.entries(fields)) strings[name] = Type.String({ maxLength })
  const properties = { _csrf: CSRF_FIELD, ...(extra ?? {}), ...strings } as { _csrf: typeof CSRF_FIELD } & E & StringFields<F>
  return { body: Type.Object(properties, { additionalProperties: false }) }
}

/** The type of a form's body, from its schema. */
export type FormBody<S extends { body: TSchema }> = Static<S['body']>

/**
 * Invalid input: the same page again with the messages beside the fields and the input kept.
 * A refused action (409): the same page with the reason on top. Anything else goes to the error handler.
 */
export async function showFormErrors (reply: FastifyReply, error: unknown, template: string, data: Record<string, unknown>): Promise<FastifyReply> {
  if (error instanceof Invalid) return await reply.page(template, { ...data, errors: error.fields }, error.statusCode)
  if (error instanceof Refused) return await reply.page(template, { ...data, formError: error.message }, error.statusCode)
  throw error
}

// A same-origin path: "/" then printable ASCII only. No control or whitespace characters (browsers
// strip tabs and newlines, so "/\t/evil.example" would become "//evil.example"), nothing above
// U+007E (an invalid Location header would throw), no backslash, no "//".
const SAME_ORIGIN_PATH = /^(?!.*\/\/)\/[\x21-\x5B\x5D-\x7E]*$/

/** Only a path on this site may be a `next` target; anything else goes to the fallback. */
export function safeNext (next: string | undefined, fallback: string): string {
  if (next === undefined || next.length > 2000 || !SAME_ORIGIN_PATH.test(next)) return fallback
  return next
}

/** Form values without the fields that must never be echoed back (passwords). */
export function keptValues<T extends object> (body: T, ...secret: Array<keyof T>): Record<string, unknown> {
  const kept: Record<string, unknown> = { ...(body as Record<string, unknown>) }
  for (const key of [...secret, '_csrf']) delete kept[String(key)]
  return kept
}

/** Runs `work` once this response has been sent (or the client has gone), never before. */
export function afterResponse (reply: FastifyReply, work: Deferred): void {
  let started = false
  const start = (): void => {
    if (started) return
    started = true
    reply.server.services.background.run(work)
  }
  // A client that has already gone will fire neither event: its work starts now.
  if (reply.raw.destroyed || reply.raw.writableFinished) start()
  reply.raw.once('finish', start)
  reply.raw.once('close', start)
}
