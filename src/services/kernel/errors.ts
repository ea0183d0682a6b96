/** Domain errors: thrown by services, mapped once to a status and a page by the errors plugin. */
export class DomainError extends Error {
  constructor (readonly statusCode: number, message: string) {
    super(message)
    this.name = new.target.name
  }
}

/** What a NotFound is about, so a caller can answer in its own words without reading the message. */
export type Missing = 'account' | 'group' | 'product' | 'api' | 'subscription'

export class NotFound extends DomainError {
  constructor (message = 'The page or record you asked for does not exist.', readonly missing: Missing | null = null) {
    super(404, message)
  }
}

/** A catch handler: a NotFound about `missing` becomes `message`; anything else goes on as it was. */
export function whenMissing (missing: Missing, message: string): (err: unknown) => never {
  return (err) => {
    throw err instanceof NotFound && err.missing === missing ? new NotFound(message, missing) : err
  }
}

export class Forbidden extends DomainError {
  constructor (message = 'You do not have access to this page.') {
    super(403, message)
  }
}

export type FieldErrors = Record<string, string>

/** Input that breaks a rule: one message per field, shown beside it. */
export class Invalid extends DomainError {
  constructor (readonly fields: FieldErrors, statusCode = 400) {
    super(statusCode, Object.values(fields)[0] ?? 'The form has errors.')
  }
}

/** The one way a check's field messages become a refusal: nothing when there are none. */
export function throwIfInvalid (errors: FieldErrors): void {
  if (Object.keys(errors).length > 0) throw new Invalid(errors)
}

/** A clash with what exists, such as a taken email: 409, shown beside the field. */
export class Conflict extends Invalid {
  constructor (field: string, message: string) {
    super({ [field]: message }, 409)
  }
}

/** An action refused because of the state of things (e.g. the last administrator). */
export class Refused extends DomainError {
  constructor (message: string) {
    super(409, message)
  }
}

/** A limit was reached: 429, with how long to wait. */
export class TooManyRequests extends DomainError {
  constructor (message = 'Too many attempts. Please wait a minute and try again.', readonly retryAfterSeconds = 60) {
    super(429, message)
  }
}

/** The server is saturated for now (e.g. password hashing): 503, try again shortly. */
export class Busy extends DomainError {
  constructor (message = 'The server is busy right now. Please try again in a few seconds.', readonly retryAfterSeconds = 5) {
    super(503, message)
  }
}

/** More data than a form accepts (an OpenAPI document over 10 MB): 413 with a clear page. */
export class TooLarge extends DomainError {
  constructor (message: string) {
    super(413, message)
  }
}
