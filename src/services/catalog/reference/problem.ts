/** What the request thread needs of a document's refusal, without loading the parser. */
export type OpenApiFormat = 'json' | 'yaml'

/** A refusal, said for the `openapi` field: the reason, and where (pointer, line). */
export class DocumentProblem extends Error {
  constructor (message: string, readonly pointer: string | null = null, readonly line: number | null = null) {
    super(message)
  }

  /** The message shown beside the field. */
  said (): string {
    // The empty pointer is the whole document.
    const at = this.pointer === '' ? 'the top level' : this.pointer
    const where = this.line !== null && at !== null ? `Line ${this.line}, at ${at}: ` : this.line !== null ? `Line ${this.line}: ` : at !== null ? `At ${at}: ` : ''
    return `${where}${this.message}`
  }
}
