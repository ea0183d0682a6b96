import { domainToASCII } from 'node:url'
import { passwordProblem, type PasswordHasher } from './passwords'
import { Invalid, type FieldErrors } from '../kernel/errors'
import { hasControlCharacters, nameProblem } from '../kernel/text-rules'

export const NAME_MAX_LENGTH = 100
export const EMAIL_MAX_LENGTH = 254

export interface NameInput {
  firstName: string
  lastName: string
}

export interface NewAccountInput extends NameInput {
  email: string
  password: string
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export function emailProblem (value: string): string | null {
  const trimmed = value.trim()
  if (trimmed === '') return 'Enter an email address.'
  if (trimmed.length > EMAIL_MAX_LENGTH) return `An email address can be at most ${EMAIL_MAX_LENGTH} characters.`
  if (hasControlCharacters(trimmed)) return 'The email address contains characters that are not allowed (control, zero-width or text-direction characters).'
  if (!EMAIL.test(trimmed)) return 'Enter an email address like name@example.com.'
  // The domain in ASCII: an international domain in its xn-- form, so no letter can pass for another.
  const domain = trimmed.slice(trimmed.lastIndexOf('@') + 1)
  if (!/^[\x21-\x7e]+$/.test(domain)) {
    const ascii = domainToASCII(domain.normalize('NFC'))
    return ascii === '' || !/^[\x21-\x7e]+$/.test(ascii)
      ? 'The domain of this email address is not a valid domain name.'
      : `Write the domain in its ASCII form: ${trimmed.slice(0, trimmed.lastIndexOf('@') + 1)}${ascii} (an international domain is written with xn--).`
  }
  return null
}

/** An email address the visitor typed into `field`: Invalid (400, beside the field) unless it is one. */
export function requireEmail (value: string, field = 'email'): void {
  const problem = emailProblem(value)
  if (problem !== null) throw new Invalid({ [field]: problem })
}

/** Field messages for a name; empty when it is fine. */
export function nameErrors (input: NameInput): FieldErrors {
  const errors: FieldErrors = {}
  const first = nameProblem('first name', input.firstName, NAME_MAX_LENGTH)
  const last = nameProblem('last name', input.lastName, NAME_MAX_LENGTH)
  if (first !== null) errors.firstName = first
  if (last !== null) errors.lastName = last
  return errors
}

/** Field messages for a new account (names, email, password policy); empty when it is fine. */
export function newAccountErrors (input: NewAccountInput, { passwordRequired = true } = {}): FieldErrors {
  const errors = nameErrors(input)
  const email = emailProblem(input.email)
  if (email !== null) errors.email = email
  const password = passwordRequired ? passwordProblem(input.password, [input.email.trim().split('@')[0] ?? '']) : null
  if (password !== null) errors.password = password
  return errors
}

/** A new password for an existing account: checked against the policy (400 beside `field`), then hashed. */
export async function hashNewPassword (hasher: PasswordHasher, password: string, email: string, field = 'password'): Promise<string> {
  const problem = passwordProblem(password, [email.split('@')[0] ?? ''])
  if (problem !== null) throw new Invalid({ [field]: problem })
  return await hasher.hash(password)
}
