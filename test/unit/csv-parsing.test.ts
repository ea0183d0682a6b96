import t from 'tap'
import { IMPORT_MAX_ROWS, parseImportFile } from '../../src/services/transfer/csv-import'

const file = (text: string): Buffer => Buffer.from(text, 'utf8')
const refusal = async (bytes: Buffer): Promise<string> => {
  try {
    await parseImportFile(bytes)
  } catch (err) {
    return (err as { fields: { file: string } }).fields.file
  }
  throw new Error('expected a refusal')
}

t.test('a CSV file becomes rows: BOM, CRLF, quotes, commas and line breaks in cells, columns in any order and case', async (t) => {
  const { rows, ignoredColumns } = await parseImportFile(file('\uFEFFLast Name,EMAIL,first_name,Groups,Notes\r\n"Ångström, Jr.",zoe@example.com,Zoë,"Partners; Beta ;Partners","two\r\nlines"\r\nDoe,jo@example.com,Jo,,\r\n'))
  t.same(rows, [
    { line: 2, email: 'zoe@example.com', firstName: 'Zoë', lastName: 'Ångström, Jr.', groups: ['Partners', 'Beta'] },
    { line: 3, email: 'jo@example.com', firstName: 'Jo', lastName: 'Doe', groups: [] }
  ])
  t.same(ignoredColumns, ['Notes'])
  const lf = await parseImportFile(file('email,firstName,lastName\n a@example.com , A , B \n\n'))
  t.same(lf.rows, [{ line: 2, email: 'a@example.com', firstName: 'A', lastName: 'B', groups: [] }], 'cells trimmed, blank lines skipped')
})

t.test('what is not a usable CSV file is refused with a message for the file field', async (t) => {
  t.match(await refusal(Buffer.alloc(0)), /empty/)
  t.match(await refusal(Buffer.from([0xFF, 0xFE, 0x65, 0x00])), /UTF-16/)
  t.match(await refusal(Buffer.from([0x65, 0x6d, 0xE9, 0x0a])), /not UTF-8/)
  t.match(await refusal(file('name,mail\nx,y\n')), /lacks email, firstName, lastName.*"name", "mail"/)
  t.match(await refusal(file('email,firstName,lastName\n')), /no accounts/)
  t.match(await refusal(file('email,firstName,lastName\n"a@example.com,A,B\n')), /could not be read as CSV/)
  t.match(await refusal(file('email,firstName,lastName\na@example.com,A\n')), /could not be read as CSV \(line 2\)/)
  t.match(await refusal(file('email,firstName,lastName\n' + 'a@example.com,A,B\n'.repeat(IMPORT_MAX_ROWS + 1))), /more than 50000 accounts/)
})
