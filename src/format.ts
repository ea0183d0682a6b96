/** How timestamps read on pages: "2026-11-26 19:09 UTC"; a dash for none. */
export function formatDate (iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '—'
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
}

/** A piece of plain text as HTML structure: a paragraph (its lines) or a bulleted list. */
export type TextBlock = { kind: 'paragraph', lines: string[] } | { kind: 'list', items: string[] }

const BULLET = /^\s*[-*•]\s+/

/**
 * Plain text an admin typed (terms of use) as paragraphs and lists, so text browsers and screen
 * readers get real structure: a blank line starts a paragraph; a paragraph whose lines all start
 * with "-", "*" or "•" is a list. The template escapes every line.
 */
export function textBlocks (text: string): TextBlock[] {
  return text.replace(/\r\n/g, '\n').split(/\n\s*\n/).map((chunk) => chunk.split('\n').map((line) => line.trim()).filter((line) => line !== ''))
    .filter((lines) => lines.length > 0)
    .map((lines): TextBlock => lines.every((line) => BULLET.test(line))
      ? { kind: 'list', items: lines.map((line) => line.replace(BULLET, '')) }
      : { kind: 'paragraph', lines })
}

const BREAKABLE_FROM = 24
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/**
 * An email address or URL as HTML that may wrap only at its natural joints: before "@" and ".",
 * after "/" and "-" (a `<wbr>` there), never inside a word. Escapes everything it is given.
 */
export function breakable (text: string | null | undefined): string {
  const value = text ?? ''
  // A value this short fits any column: left whole, it also reads the same in the page's source.
  if (value.length <= BREAKABLE_FROM) return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c])
  return value.replace(/[&<>"']|[@.]|[/-]+/g, (part) => {
    if (part in HTML_ESCAPES) return HTML_ESCAPES[part]
    return part === '@' || part === '.' ? `<wbr>${part}` : `${part}<wbr>`
  })
}

const NUMBER = new Intl.NumberFormat('en-GB')

/** Thousands separated the same way on every page: 12,345. */
export function formatNumber (value: number): string {
  return NUMBER.format(value)
}
