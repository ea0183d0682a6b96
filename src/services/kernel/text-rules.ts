// Characters no name or address may hold: control characters (they corrupt emails and CSV), and
// format characters (zero-width spaces and joiners, bidirectional controls such as U+202E, the
// byte-order mark) and line separators, which make one text read as another.
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u

/**
 * The name rule, for every name a person types (first and last names, group names, the
 * organisation name): not blank once trimmed, at most `max` characters, no control, zero-width or
 * bidirectional-control characters. `label` names the field in the message ("first name").
 */
export function nameProblem (label: string, value: string, max: number): string | null {
  const trimmed = value.trim()
  if (trimmed === '') return `Enter the ${label}.`
  if ([...trimmed].length > max) return `The ${label} can be at most ${max} characters.`
  if (FORBIDDEN.test(trimmed)) return `The ${label} contains characters that are not allowed (control, zero-width or text-direction characters).`
  return null
}

/** Whether the text holds a control, zero-width or bidirectional-control character. */
export function hasControlCharacters (value: string): boolean {
  return FORBIDDEN.test(value)
}

/** A name or an address as it is kept: trimmed, in Unicode's composed form (NFC), so é is one character however it was typed. */
export function canonicalText (value: string): string {
  return value.trim().normalize('NFC')
}

// Letters of other alphabets drawn like Latin ones (after lower-casing), from Unicode's
// confusables (UTS #39): "Аdministrators" with a Cyrillic А is the name of the system group.
const LOOK_ALIKES: Record<string, string> = {
  // Cyrillic
  а: 'a', в: 'b', е: 'e', ё: 'e', һ: 'h', н: 'h', і: 'i', ї: 'i', ј: 'j', к: 'k', ӏ: 'l', м: 'm', о: 'o', ө: 'o', р: 'p', ԛ: 'q', с: 'c', ѕ: 's', т: 't',
  у: 'y', ү: 'y', х: 'x', ԝ: 'w', ԁ: 'd', ь: 'b', ҽ: 'e',
  // Greek
  α: 'a', β: 'b', ε: 'e', η: 'h', ι: 'i', κ: 'k', μ: 'm', ν: 'n', ο: 'o', ρ: 'p', τ: 't', υ: 'y', χ: 'x', ζ: 'z',
  // Latin letters of other blocks that NFKC leaves alone
  ı: 'i', ɑ: 'a', ɡ: 'g', ß: 'ss'
}
const LOOK_ALIKE = new RegExp(`[${Object.keys(LOOK_ALIKES).join('')}]`, 'gu')

/**
 * What identifiers (emails, group names) are compared by: NFKC with case folding (full-width
 * letters, ligatures and other compatibility forms become the plain ones, in any normalisation
 * form), then letters of other alphabets that are drawn like Latin ones become those. So a
 * look-alike of an existing identifier is the same identifier: a conflict.
 */
export function identifierKey (value: string): string {
  return value.trim().normalize('NFKC').toLowerCase().normalize('NFKC').replace(LOOK_ALIKE, (c) => LOOK_ALIKES[c])
}
