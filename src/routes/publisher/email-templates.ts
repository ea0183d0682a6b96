import type { FastifyInstance } from 'fastify'
import { BODY_MAX_LENGTH, SUBJECT_MAX_LENGTH, TEMPLATE_INFO, renderTemplate, sampleValues, type EmailTemplate } from '../../services/mail/templates'
import { checkbox, formSchema, showFormErrors, type FormBody } from '../shared/forms'
import { actorOf } from '../../http/request-account'

const nameParams = { params: { type: 'object', properties: { name: { type: 'string', maxLength: 40 } }, required: ['name'] } }

const templateForm = formSchema({ subject: SUBJECT_MAX_LENGTH * 5, body: BODY_MAX_LENGTH * 2 }, { enabled: checkbox() })

export default async function emailTemplateRoutes (app: FastifyInstance): Promise<void> {
  const { templates, settings } = app.services

  async function pageData (template: EmailTemplate, values: { subject: string, body: string, enabled: boolean }) {
    const samples = sampleValues((await settings.getSettings()).orgName, app.config.publicUrl)
    return {
      title: `Email template: ${TEMPLATE_INFO[template.name].referenceName}`,
      template,
      info: TEMPLATE_INFO[template.name],
      values,
      preview: renderTemplate(values.subject, values.body, samples)
    }
  }

  app.get('/', async (_request, reply) => {
    return await reply.page('publisher/email-templates/list', { title: 'Email templates', templates: await templates.listTemplates(), info: TEMPLATE_INFO })
  })

  app.get<{ Params: { name: string } }>('/:name', { schema: nameParams }, async (request, reply) => {
    const template = await templates.getTemplate(request.params.name)
    return await reply.page('publisher/email-templates/edit', await pageData(template, template))
  })

  app.post<{ Params: { name: string }, Body: FormBody<typeof templateForm> }>('/:name', {
    schema: { ...nameParams, ...templateForm }
  }, async (request, reply) => {
    const values = { subject: request.body.subject, body: request.body.body, enabled: request.body.enabled === 'on' }
    try {
      const saved = await templates.saveTemplate(request.params.name, values, actorOf(request))
      request.session.flash = `The "${TEMPLATE_INFO[saved.name].referenceName}" template was saved.`
      return await reply.code(303).redirect(`/admin/email-templates/${request.params.name}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/email-templates/edit', await pageData(await templates.getTemplate(request.params.name), values))
    }
  })

  app.post<{ Params: { name: string } }>('/:name/reset', { schema: { ...nameParams, ...formSchema({}) } }, async (request, reply) => {
    await templates.resetTemplate(request.params.name, actorOf(request))
    request.session.flash = 'The default text is back.'
    return await reply.code(303).redirect(`/admin/email-templates/${request.params.name}`)
  })
}
