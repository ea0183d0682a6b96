/** How timestamps read on pages: "2026-11-26 19:09 UTC"; a dash for none. */
export function formatDate (iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '—'
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
}
