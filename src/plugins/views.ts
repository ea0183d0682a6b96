import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import view from '@fastify/view'
import { Eta } from 'eta'
import { viewsDir } from '../paths'
import type { FieldErrors } from '../services/kernel/errors'
import { breakable, formatDate, formatNumber, textBlocks } from '../format'
import type { Settings } from '../services/settings/settings'
import { csrfUserInfo } from './security'

declare module 'fastify' {
  interface FastifyReply {
    /** Renders a page inside the layout, with the signed-in account, flash message and CSRF token at hand. */
    page: (template: string, data?: Record<string, unknown>, statusCode?: number) => Promise<FastifyReply>
  }
}

export interface FormState {
  values: Record<string, unknown>
  errors: FieldErrors
}

export interface ViewsOptions {
  settings: Settings
}

/** Eta templates; `<%= %>` escapes, and nothing user-supplied is ever printed raw. */
export default fp(async function views (app: FastifyInstance, options: ViewsOptions) {
  await app.register(view, {
    engine: { eta: new Eta({ views: viewsDir, autoEscape: true, cache: true }) },
    templates: viewsDir,
    production: true
  })

  app.decorateReply('page', async function page (this: FastifyReply, template: string, data: Record<string, unknown> = {}, statusCode = 200) {
    const request = this.request
    const session = request.session
    const flash = session?.flash
    if (flash !== undefined) delete session.flash
    const { orgName, signupEnabled, passwordSignIn } = await options.settings.chromeSettings()
    let token: string | undefined
    return await this.code(statusCode).type('text/html; charset=utf-8').view(template, {
      orgName,
      // No sign-up form while developers sign in only through identity providers.
      signupEnabled: signupEnabled && passwordSignIn,
      // `me`, not `account`: pages about some other account pass their own `account`.
      me: request.account,
      path: request.url.split('?')[0],
      flash: flash ?? null,
      values: {},
      errors: {},
      formatDate,
      formatNumber,
      breakable,
      textBlocks,
      // A function, so a token (and the cookie holding its secret) is made only for pages with forms.
      // One token per page: a page with several forms (a button per identity provider) must not
      // make a new secret for each, which would leave only the last form's token working.
      csrf: () => (token ??= this.generateCsrf({ userInfo: csrfUserInfo(request) })),
      ...data
    })
  })
}, { name: 'portico-views', dependencies: ['@fastify/session', '@fastify/csrf-protection', 'portico-security'] })
