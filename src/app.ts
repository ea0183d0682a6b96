import fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import cookie from '@fastify/cookie'
import session from '@fastify/session'
import formbody from '@fastify/formbody'
import multipart from '@fastify/multipart'
import fastifyStatic from '@fastify/static'
import type { Knex } from 'knex'
import type { Config } from './config'
import { publicDir } from './paths'
import { createDb, migrate } from './db/knex'
import { KnexSessionStore } from './db/session-store'
import { systemClock, type Clock } from './services/clock'
import { createServices, type Services } from './services'
import { checkKeySecret } from './services/secret-check'
import security from './plugins/security'
import auth, { SESSION_COOKIE } from './plugins/auth'
import views from './plugins/views'
import errors from './plugins/errors'
import { ensureConfiguredAdministrator } from './services/accounts/configured-administrator'
import healthRoutes from './routes/health'
import setupRoutes from './routes/portal/setup'
import signInRoutes from './routes/portal/sign-in'
import portalHomeRoutes from './routes/portal/home'
import publisherRoutes from './routes/publisher'
import invitationRoutes from './routes/portal/invitations'
import signUpRoutes from './routes/portal/signup'
import profileRoutes from './routes/portal/profile'
import passwordResetRoutes from './routes/portal/password-reset'
import catalogRoutes from './routes/portal/catalog'
import subscriptionRoutes from './routes/portal/subscriptions'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    db: Knex
    services: Services
  }
}

export interface BuildOptions {
  logger?: FastifyServerOptions['logger']
  clock?: Clock
  /** How often the mail sender looks for due emails (retries, other instances' mail). */
  mailPollMs?: number
}

const SESSION_MAX_AGE_MS = 24 * 60 * 60 * 1000
const PRUNE_EVERY_MS = 60 * 60 * 1000

/**
 * TRUST_PROXY for fastify: a list of proxy addresses as it is; a hop count as proxy-addr's "trust
 * the first n hops" (fastify itself now treats a bare number as "trust none").
 */
function trustProxyOption (trust: Config['trustProxy']): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust !== 'number') return trust
  return (_address, hop) => hop < trust
}

/** The whole wiring on one page: external plugins, our plugins, services, routes. */
export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const clock = options.clock ?? systemClock
  const db = createDb(config.databaseUrl)
  try {
    await migrate(db)
    await checkKeySecret(db, config.keySecret)
  } catch (err) {
    await db.destroy()
    throw err
  }

  const app = fastify({
    logger: options.logger ?? false,
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: 256 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } }
  })

  const services = createServices(config, db, clock, (err, what) => app.log.error({ err }, what))
  // Cookies are Secure when the portal is served over https.
  const secureCookies = config.publicUrl.startsWith('https:')
  const { mailSender, limits, background } = services
  app.decorate('config', config)
  app.decorate('db', db)
  app.decorate('services', services)

  // External plugins
  const sessionStore = new KnexSessionStore(db, (err) => app.log.error({ err }, 'session store callback failed'))
  // Signs the CSRF cookie; @fastify/session signs its own cookie with the same secret.
  await app.register(cookie, { secret: config.sessionSecret })
  await app.register(session, {
    secret: config.sessionSecret,
    cookieName: SESSION_COOKIE,
    store: sessionStore,
    saveUninitialized: false,
    rolling: false,
    cookie: {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: secureCookies,
      maxAge: SESSION_MAX_AGE_MS
    }
  })
  await app.register(formbody)
  // Multipart forms (an OpenAPI file upload): fields land in the body like a URL-encoded form's, and
  // before our CSRF check reads it. No route takes a file unless it says so (config.multipartOptions).
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { files: 0, fields: 100, parts: 101, fieldSize: 256 * 1024 }
  })
  await app.register(fastifyStatic, { root: publicDir, prefix: '/public/', index: false })

  // Our plugins
  await app.register(auth)
  await app.register(security, {
    secret: config.sessionSecret,
    publicOrigin: new URL(config.publicUrl).origin,
    secureCookies
  })
  await app.register(views, { settings: services.settings })
  await app.register(errors)

  // Services that run beside the requests
  try {
    await ensureConfiguredAdministrator(services.accounts, config)
  } catch (err) {
    await db.destroy()
    throw err
  }
  const prune = async (): Promise<void> => {
    await sessionStore.prune()
    await limits.prune()
  }
  const pruner = setInterval(() => { prune().catch((err) => app.log.error({ err }, 'prune failed')) }, PRUNE_EVERY_MS)
  pruner.unref()
  mailSender.start(options.mailPollMs ?? 2000)
  app.addHook('onClose', async () => {
    clearInterval(pruner)
    await background.idle()
    await mailSender.stop()
    await db.destroy()
  })

  // Routes
  await app.register(healthRoutes)
  await app.register(setupRoutes)
  await app.register(signInRoutes)
  await app.register(portalHomeRoutes)
  await app.register(invitationRoutes)
  await app.register(signUpRoutes)
  await app.register(profileRoutes)
  await app.register(passwordResetRoutes)
  await app.register(catalogRoutes)
  await app.register(subscriptionRoutes)
  await app.register(publisherRoutes, { prefix: '/admin' })

  return app
}
