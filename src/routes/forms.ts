import type { FastifyReply } from 'fastify'
import { Invalid, NotFound, Refused } from '../services/errors'

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

/** Only a path on this site may be a `next` target; anything else goes home. */
export function safeNext (next: string | undefined, fallback: string): string {
  if (next === undefined || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback
  return next
}

/** Form values without the fields that must never be echoed back (passwords). */
export function keptValues<T extends object> (body: T, ...secret: Array<keyof T>): Record<string, unknown> {
  const kept: Record<string, unknown> = { ...(body as Record<string, unknown>) }
  for (const key of [...secret, '_csrf']) delete kept[String(key)]
  return kept
}
