import { NotFound } from '../../services/kernel/errors'

/** Params of a page about one record; the id is parsed with `parseId` (anything odd is a 404). */
export const idParams = {
  params: { type: 'object', properties: { id: { type: 'string', maxLength: 40 } }, required: ['id'] }
}

/** Params of a page behind an emailed link; the token's shape is checked by the service (404). */
export const tokenParams = { params: { type: 'object', properties: { token: { type: 'string', maxLength: 100 } }, required: ['token'] } }

// Ids are the database's integers: at most 2^31 - 1 (PostgreSQL refuses larger ones with an error).
const ID_MAX = 2_147_483_647

function plainId (raw: string): number | null {
  return /^[1-9]\d{0,9}$/.test(raw) && Number(raw) <= ID_MAX ? Number(raw) : null
}

/** Ids in URLs: anything that is not a plain positive number is simply not found. */
export function parseId (raw: string): number {
  const id = plainId(raw)
  if (id === null) throw new NotFound()
  return id
}

/** An id chosen in a form (a select): anything odd is 0, which matches nothing, so the service says so beside the field. */
export function formId (raw: string): number {
  return plainId(raw) ?? 0
}

/** An id in a filter: anything odd is no filter. */
export function filterId (raw: string | undefined): number | undefined {
  return raw === undefined ? undefined : plainId(raw) ?? undefined
}

/** Query-string schema: bounded strings, nothing unexpected. */
export function querySchema (properties: Record<string, object>) {
  return { querystring: { type: 'object', properties, additionalProperties: false } }
}

/** `?page=N` of every paged list. */
export const pageProperty = { page: { type: 'integer', minimum: 1, maximum: 1000000 } }

/** A list page's title says which page it is: "Developers (page 2 of 7)". */
export function pagedTitle (title: string, result: { page: number, pages: number }): string {
  return result.page > 1 ? `${title} (page ${result.page} of ${result.pages})` : title
}
