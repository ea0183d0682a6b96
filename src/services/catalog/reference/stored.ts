import type { DrawnOperation, DrawnReference, DrawnSchema, OperationView, ReferenceOverview, SchemaView } from './draw'
import type { OpenApiFormat, PreparedDocument } from './prepare'

/**
 * A prepared document as the database keeps it, and as the worker thread hands it over: views as
 * JSON text, so taking it in costs the request thread a copy of strings, not a walk of objects.
 */
/** An operation and a schema as stored: the drawn rows themselves (their views are already JSON text). */
export type StoredOperation = DrawnOperation
export type StoredSchema = DrawnSchema

export interface StoredDocument {
  format: OpenApiFormat
  overview: string
  operations: StoredOperation[]
  schemas: StoredSchema[]
  gatewayJson: string
}

export function storedDocument (prepared: PreparedDocument): StoredDocument {
  const reference: DrawnReference = prepared.reference
  return {
    format: prepared.format,
    overview: JSON.stringify(reference.overview),
    operations: reference.operations,
    schemas: reference.schemas,
    gatewayJson: prepared.gatewayJson
  }
}

export const parseOverview = (text: string): ReferenceOverview => JSON.parse(text) as ReferenceOverview
export const parseOperation = (text: string): OperationView => JSON.parse(text) as OperationView
export const parseSchema = (text: string): SchemaView => JSON.parse(text) as SchemaView
