import fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import cookie from '@fastify/cookie'
import session from '@fastify/session'
import formbody from '@fastify/formbody'
import multipart from '@fastify/multipart'
import fastifyStatic from '@fastify/static'
import compress from '@fastify/compress'
import type { Knex } from 'knex'
import { gatewayPaths, type Config } from './config'
import { publicDir } from './paths'

export { gatewayPaths }
import { createDb, createReadDb, migrate } from './db/knex'
import { KnexSessionStore } from './db/session-store'
import { systemClock, type Clock } from './services/kernel/clock'
import { createServices, type Services } from './services'
import { checkKeySecret } from './services/kernel/secret-check'
import security from './plugins/security'
import auth from './plugins/auth'
import views from './plugins/views'
import errors from './plugins/errors'
import { ensureConfiguredAdministrator } from './services/accounts/configured-administrator'
import healthRoutes from './routes/health'
import metricsRoutes from './routes/metrics'
import setupRoutes from './routes/portal/setup'
import signInRoutes from './routes/portal/sign-in'
import ssoRoutes from './routes/portal/sso'
import mfaRoutes from './routes/portal/mfa'
import organisationRoutes from './routes/portal/organisations'
import portalHomeRoutes from './routes/portal/home'
import publisherRoutes from './routes/publisher'
import invitationRoutes from './routes/portal/invitations'
import signUpRoutes from './routes/portal/signup'
import profileRoutes from './routes/portal/profile'
import passwordResetRoutes from './routes/portal/password-reset'
import catalogRoutes from './routes/portal/catalog'
import subscriptionRoutes from './routes/portal/subscriptions'
import gatewayPlugin from './gateway/plugin'
import { createBackendSlots } from './gateway/backend-slots'
import apiPlugin from './api/plugin'
import { API_PREFIX } from './http/mounts'
import { MESSAGES, type GatewayOptions } from './services/gateway/gateway'
import { SESSION_COOKIE } from './http/cookies'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    db: Knex
    /** Read-only connections for the busiest reads (the same as `db` on PostgreSQL). */
    readDb: Knex
    services: Services
    /** The gateway's own server when GATEWAY_PORT is set (not listening until server.ts says so). */
    gatewayServer: FastifyInstance | null
  }
}

export interface BuildOptions {
  logger?: FastifyServerOptions['logger']
  clock?: Clock
  /** How often the mail sender looks for due emails (retries, other instances' mail). */
  mailPollMs?: number
  /** The gateway's polling and batching intervals (tests shorten them). */
  gateway?: GatewayOptions
  /** How long a backend may take before the gateway answers 504 (30 s; tests shorten it). */
  gatewayTimeoutMs?: number
  /** How long a request body may send nothing before the gateway answers 408 (30 s; tests shorten it). */
  gatewayBodyIdleMs?: number
  /** How long a call waits for a connection to a busy backend before 503 (5 s; tests shorten it). */
  gatewayBackendWaitMs?: number
  /** Management API calls a minute per token (600; tests lower it). */
  apiCallsPerMinute?: number
}

const GATEWAY_TIMEOUT_MS = 30_000
const GATEWAY_BODY_IDLE_MS = 30_000
const GATEWAY_BACKEND_WAIT_MS = 5_000
const API_CALLS_PER_MINUTE = 600

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

  const fastifyOptions: FastifyServerOptions = {
    logger: options.logger ?? false,
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: 256 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } }
  }
  const app = fastify(fastifyOptions)
  // After the migrations: a reader must not open the file before the writer has made it WAL.
  const readDb = createReadDb(config.databaseUrl, db)

  const services = createServices(config, db, clock, (err, what) => app.log.error({ err }, what), options.gateway, readDb)
  const { mailSender, limits, background, gateway } = services
  app.decorate('config', config)
  app.decorate('db', db)
  app.decorate('readDb', readDb)
  app.decorate('services', services)

  // The gateway and the portal live side by side: neither's plugins or hooks reach the other's routes.
  const paths = gatewayPaths(config)
  // One count of connections per backend for both servers that forward (the portal's and GATEWAY_PORT's).
  const forwarding = {
    gateway,
    timeoutMs: options.gatewayTimeoutMs ?? GATEWAY_TIMEOUT_MS,
    bodyIdleMs: options.gatewayBodyIdleMs ?? GATEWAY_BODY_IDLE_MS,
    backendSlots: createBackendSlots(config.gatewayBackendConnections, options.gatewayBackendWaitMs ?? GATEWAY_BACKEND_WAIT_MS),
    connectionsPerBackend: config.gatewayBackendConnections
  }
  const { metrics } = services
  if (metrics !== null && config.metricsToken !== null) {
    // Portal and management API requests, by route template (gateway calls are counted by the
    // gateway). Added before the other plugins are registered, so it reaches their routes.
    app.addHook('onResponse', async (request, reply) => {
      if (request.gatewayCall != null) return
      metrics.portalRequest(request.method, request.routeOptions.url, reply.statusCode)
    })
    await app.register(metricsRoutes, { metrics, token: config.metricsToken })
  }
  await app.register(gatewayPlugin, { prefix: paths.portal, basePath: paths.portal, ...forwarding })
  await app.register(apiPlugin, { prefix: API_PREFIX, publicUrl: config.publicUrl, perMinute: options.apiCallsPerMinute ?? API_CALLS_PER_MINUTE, failuresPerMinute: config.rateLimitPerMinute })
  await app.register(async (portal) => { await portalPlugins(portal, config, services) })

  let gatewayServer: FastifyInstance | null = null
  if (config.gatewayPort !== null) {
    gatewayServer = fastify({ ...fastifyOptions, logger: undefined, loggerInstance: app.log })
    await gatewayServer.register(gatewayPlugin, { prefix: paths.own, basePath: paths.own, ...forwarding })
    if (paths.own !== '') {
      gatewayServer.setNotFoundHandler(async (_request, reply) => await reply.code(404).send({ statusCode: 404, message: MESSAGES.noApi }))
    }
  }
  app.decorate('gatewayServer', gatewayServer)

  // Services that run beside the requests
  try {
    await ensureConfiguredAdministrator(services.accounts, config)
  } catch (err) {
    if (readDb !== db) await readDb.destroy()
    await db.destroy()
    throw err
  }
  const pruner = setInterval(() => { limits.prune().catch((err) => app.log.error({ err }, 'prune failed')) }, PRUNE_EVERY_MS)
  pruner.unref()
  mailSender.start(options.mailPollMs ?? 2000)
  gateway.start()
  // References drawn by an older version are drawn again, in the worker thread, one at a time.
  background.run(async () => {
    const drawn = await services.apis.redrawMissing()
    if (drawn > 0) app.log.info({ drawn }, 'API references drawn again')
  })
  app.addHook('onClose', async () => {
    clearInterval(pruner)
    await services.documentWorkers.close()
    if (gatewayServer !== null) await gatewayServer.close()
    await gateway.stop()
    await services.csvImport.stop()
    await background.idle()
    await mailSender.stop()
    if (readDb !== db) await readDb.destroy()
    await db.destroy()
  })

  return app
}

/** The portal: sessions, forms, CSRF, pages and their routes, in a context the gateway does not share. */
async function portalPlugins (app: FastifyInstance, config: Config, services: Services): Promise<void> {
  // Cookies are Secure when the portal is served over https.
  const secureCookies = config.publicUrl.startsWith('https:')
  const sessionStore = new KnexSessionStore(app.db, app.readDb, app.services.signIn.sessionAccounts, (err) => app.log.error({ err }, 'session store callback failed'))
  const pruner = setInterval(() => { sessionStore.prune().catch((err) => app.log.error({ err }, 'session prune failed')) }, PRUNE_EVERY_MS)
  pruner.unref()
  app.addHook('onClose', async () => { clearInterval(pruner) })

  // External plugins
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
  // Pages (and exports) go out compressed when the browser accepts it: br, else gzip.
  await app.register(compress, { encodings: ['br', 'gzip'], threshold: 1024 })
  await app.register(fastifyStatic, { root: publicDir, prefix: '/public/', index: false })

  // Our plugins
  await app.register(auth, { sessionAccounts: sessionStore })
  await app.register(security, {
    secret: config.sessionSecret,
    publicOrigin: new URL(config.publicUrl).origin,
    secureCookies,
    formOrigins: services.providers.formOrigins
  })
  await app.register(views, { settings: services.settings })
  await app.register(errors)

  // Routes
  await app.register(healthRoutes)
  await app.register(setupRoutes)
  await app.register(signInRoutes)
  await app.register(ssoRoutes)
  await app.register(mfaRoutes)
  await app.register(portalHomeRoutes)
  await app.register(invitationRoutes)
  await app.register(signUpRoutes)
  await app.register(profileRoutes)
  await app.register(passwordResetRoutes)
  await app.register(catalogRoutes)
  await app.register(subscriptionRoutes)
  await app.register(organisationRoutes)
  await app.register(publisherRoutes, { prefix: '/admin' })
}
