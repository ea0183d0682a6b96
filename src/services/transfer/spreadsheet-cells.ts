// What a spreadsheet may read as the start of a formula: = + - @ (and their full-width forms, which
// some spreadsheets fold to ASCII), after any leading whitespace; or a tab or carriage return.
const FORMULA_START = /^(?:\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]|[\t\r])/u

/** A cell's text that no spreadsheet reads as a formula: a leading quote mark when it could be one. */
export function defused (value: string | number | null): string {
  const text = value === null ? '' : String(value)
  return FORMULA_START.test(text) ? `'${text}` : text
}

/**
 * The text an export defused, as it was: the quote mark `defused` put before a formula-like value
 * comes off ("'=SUM(A1)" is read back as "=SUM(A1)", kept as text). A quote before anything else stays.
 */
export function restored (text: string): string {
  return text.startsWith("'") && FORMULA_START.test(text.slice(1)) ? text.slice(1) : text
}
