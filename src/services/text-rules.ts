// Control characters have no place in a name or an address and would corrupt emails and CSV.
const CONTROL = /\p{Cc}/u

/**
 * The name rule, for every name a person types (first and last names, group names, the
 * organisation name): not blank once trimmed, at most `max` characters, no control characters.
 * `label` names the field in the message ("first name", "group name").
 */
export function nameProblem (label: string, value: string, max: number): string | null {
  const trimmed = value.trim()
  if (trimmed === '') return `Enter the ${label}.`
  if ([...trimmed].length > max) return `The ${label} can be at most ${max} characters.`
  if (CONTROL.test(trimmed)) return `The ${label} contains characters that are not allowed.`
  return null
}

/** Whether the text holds a control character (names, email addresses). */
export function hasControlCharacters (value: string): boolean {
  return CONTROL.test(value)
}
