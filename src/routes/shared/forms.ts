import type { FastifyReply } from 'fastify'
import type { Deferred } from '../../services/background'
import { Invalid, NotFound, Refused } from '../../services/errors'

/** A form body schema: every field a string of bounded length, plus the CSRF token; nothing else. */
export function formSchema (fields: Record<string, number>, extra: Record<string, object> = {}) {
  const properties: Record<string, object> = { _csrf: { type: 'string', maxLength: 200 }, ...extra }
  for (const [name, maxLength] of Object.entries(fields)) properties[name] = { type: 'string', maxLength }
  return {
    body: { type: 'object', properties, required: Object.keys(fields), additionalProperties: false }
  }
}

/** Query-string schema: bounded strings, nothing unexpected. */
export function querySchema (properties: Record<string, object>) {
  return { querystring: { type: 'object', properties, additionalProperties: false } }
}

export const idParams = {
  params: { type: 'object', properties: { id: { type: 'string', maxLength: 40 } }, required: ['id'] }
}

/** Ids in URLs: anything that is not a plain positive number is simply not found. */
export function parseId (raw: string): number {
  if (!/^[1-9]\d{0,14}$/.test(raw)) throw new NotFound()
  return Number(raw)
}

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
  reply.raw.once('finish', start)
  reply.raw.once('close', start)
}
