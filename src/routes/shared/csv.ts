import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { stringify } from 'csv-stringify'

// What a spreadsheet may read as the start of a formula: = + - @ (and their full-width forms, which
// some spreadsheets fold to ASCII), after any leading whitespace; or a tab or carriage return.
const FORMULA_START = /^(?:\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]|[\t\r])/u

/** A cell's text that no spreadsheet reads as a formula: a leading quote mark when it could be one. */
export function defused (value: string | number | null): string {
  const text = value === null ? '' : String(value)
  return FORMULA_START.test(text) ? `'${text}` : text
}

/**
 * Sends rows as a CSV download, streamed: `rows` yields batches as they are read (csv-stringify,
 * every cell quoted and defused, CRLF lines), so a large export is never held in memory.
 */
export async function sendCsv (reply: FastifyReply, fileName: string, columns: string[], rows: AsyncIterable<Array<Array<string | number | null>>>): Promise<FastifyReply> {
  async function * records (): AsyncGenerator<string[]> {
    for await (const batch of rows) for (const row of batch) yield row.map(defused)
  }
  const csv = stringify({ quoted: true, record_delimiter: 'windows' })
  Readable.from(records()).pipe(csv)
  // The header line names plain columns, unquoted (as scripts reading earlier exports expect).
  async function * lines (): AsyncGenerator<string | Buffer> {
    yield columns.join(',') + '\r\n'
    for await (const chunk of csv) yield chunk as Buffer
  }
  return await reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${fileName}"`)
    .send(Readable.from(lines()))
}
