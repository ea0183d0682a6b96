import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Invalid } from '../../../services/kernel/errors'
import { IMPORT_MAX_BYTES, IMPORT_MAX_ROWS, type ImportResult } from '../../../services/transfer/csv-import'
import { actorOf, signedIn } from '../../../http/request-account'
import { formSchema, showFormErrors, type FormBody } from '../../shared/forms'
import { formId, idParams, parseId } from '../../shared/params'

const importForm = formSchema({}, {
  file: Type.Optional(Type.Unsafe<string | Buffer>({ anyOf: [{ type: 'string', maxLength: IMPORT_MAX_BYTES }, { type: 'object' }] })),
  mode: Type.Optional(Type.String({ maxLength: 10 })),
  importId: Type.Optional(Type.String({ maxLength: 20 }))
})
/** Rows drawn on the preview page: invalid ones first. */
const PREVIEW_ROWS = 500
/** How long the run's request waits for a short import to end before showing its progress page instead. */
const IMPORT_WAIT_MS = 5_000

function importDone (result: ImportResult): string {
  if (result.alreadyRun) return 'This import was already run: nothing more was done.'
  return `Import done: ${result.created} ${result.created === 1 ? 'account' : 'accounts'} created (each was emailed a link to choose a password), ${result.invited} invited, ${result.skipped} skipped.`
}

export default async function developerImportRoutes (app: FastifyInstance): Promise<void> {
  // CSV import: upload, a preview of every row, then a run in slices, followed on its own page.
  const importPage = (data: Record<string, unknown> = {}) => ({ title: 'Import developers from CSV', values: { mode: 'invite' }, maxRows: IMPORT_MAX_ROWS, ...data })

  app.get('/import', async (_request, reply) => await reply.page('publisher/developers/import', importPage()))

  app.post<{ Body: FormBody<typeof importForm> }>('/import', { schema: importForm, bodyLimit: IMPORT_MAX_BYTES + 64 * 1024, config: { multipartOptions: { limits: { files: 1, fileSize: IMPORT_MAX_BYTES + 1 } } } }, async (request, reply) => {
    const { file, mode, importId } = request.body
    const values = { mode: mode ?? 'invite' }
    try {
      if (importId !== undefined) {
        const { id, run } = await app.services.csvImport.start(formId(importId), actorOf(request))
        // A short import is done by the time the page would show: the list says what happened.
        // A longer one goes on beside the requests (or on another instance); its page shows how far it is.
        const result = run === null ? null : await Promise.race([run.catch(() => null), new Promise<undefined>((resolve) => setTimeout(() => { resolve(undefined) }, IMPORT_WAIT_MS).unref())])
        if (result === undefined || result === null) return await reply.code(303).redirect(`/admin/developers/import/${id}`)
        request.session.flash = importDone(result)
        return await reply.code(303).redirect('/admin/developers')
      }
      if (mode !== 'create' && mode !== 'invite') throw new Invalid({ mode: 'Choose whether to create active accounts or to invite them.' })
      const bytes = Buffer.isBuffer(file) ? file : Buffer.from(file ?? '', 'utf8')
      const preview = await app.services.csvImport.preview(bytes, 'uploaded file', mode, { ...actorOf(request), id: signedIn(request).id })
      const shown = [...preview.rows.filter((r) => r.outcome === 'invalid'), ...preview.rows.filter((r) => r.outcome !== 'invalid')].slice(0, PREVIEW_ROWS)
      return await reply.page('publisher/developers/import-preview', { title: 'Check the import', preview, shown, previewRows: PREVIEW_ROWS })
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/developers/import', importPage({ values }))
    }
  })

  app.get<{ Params: { id: string } }>('/import/:id', { schema: idParams }, async (request, reply) => {
    const progress = await app.services.csvImport.progress(parseId(request.params.id), actorOf(request))
    return await reply.page('publisher/developers/import-progress', { title: progress.status === 'done' ? 'Import done' : 'Import in progress', progress, summary: importDone({ ...progress, alreadyRun: false }) })
  })
}
