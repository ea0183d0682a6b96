import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { stringify } from 'csv-stringify'
import { defused } from '../../services/transfer/spreadsheet-cells'

// A UTF-8 byte order mark first: Excel reads the file as UTF-8 only with it ("Zoë", not "ZoÃ«").
const BOM = '\uFEFF'

/**
 * Sends rows as a CSV download, streamed: `rows` yields batches as they are read (csv-stringify,
 * every cell quoted and defused, CRLF lines, a byte order mark first), so a large export is never held in memory.
 */
export async function sendCsv (reply: FastifyReply, fileName: string, columns: string[], rows: AsyncIterable<Array<Array<string | number | null>>>): Promise<FastifyReply> {
  async function * records (): AsyncGenerator<string[]> {
    for await (const batch of rows) for (const row of batch) yield row.map(defused)
  }
  const csv = stringify({ quoted: true, record_delimiter: 'windows' })
  Readable.from(records()).pipe(csv)
  // The header line names plain columns, unquoted (as scripts reading earlier exports expect).
  async function * lines (): AsyncGenerator<string | Buffer> {
    yield BOM + columns.join(',') + '\r\n'
    for await (const chunk of csv) yield chunk as Buffer
  }
  return await reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${fileName}"`)
    .send(Readable.from(lines()))
}
