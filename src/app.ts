import fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import cookie from '@fastify/cookie'
import session from '@fastify/session'
import formbody from '@fastify/formbody'
import fastifyStatic from '@fastify/static'
import type { Knex } from 'knex'
import type { Config } from './config'
import { publicDir } from './paths'
import { createDb, migrate } from './db/knex'
import { KnexSessionStore } from './db/session-store'
import { systemClock, type Clock } from './services/clock'
import { createPasswordHasher, type PasswordHasher } from './services/passwords'
import { createAccounts, type Accounts } from './services/accounts'
import { createSignIn, type SignIn } from './services/sign-in'
import security from './plugins/security'
import auth, { SESSION_COOKIE } from './plugins/auth'
import views from './plugins/views'
import errors from './plugins/errors'
import { ensureConfiguredAdministrator } from './services/bootstrap'
import healthRoutes from './routes/health'
import setupRoutes from './routes/portal/setup'
import signInRoutes from './routes/portal/sign-in'
import portalHomeRoutes from './routes/portal/home'
import publisherRoutes from './routes/publisher'

export interface Services {
  clock: Clock
  hasher: PasswordHasher
  accounts: Accounts
  signIn: SignIn
}

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
}

const SESSION_MAX_AGE_MS = 24 * 60 * 60 * 1000
const PRUNE_EVERY_MS = 60 * 60 * 1000

/** The whole wiring on one page: external plugins, our plugins, services, routes. */
export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const clock = options.clock ?? systemClock
  const db = createDb(config.databaseUrl)
  try {
    await migrate(db)
  } catch (err) {
    await db.destroy()
    throw err
  }

  const app = fastify({
    logger: options.logger ?? false,
    trustProxy: config.trustProxy,
    bodyLimit: 256 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } }
  })

  const hasher = createPasswordHasher(config.passwordHashCost)
  const services: Services = {
    clock,
    hasher,
    accounts: createAccounts({ db, hasher, clock }),
    signIn: createSignIn({ db, hasher, clock, failureLimit: config.signInFailureLimit, failureWindowMinutes: config.signInFailureWindowMinutes })
  }
  app.decorate('config', config)
  app.decorate('db', db)
  app.decorate('services', services)

  // External plugins
  const sessionStore = new KnexSessionStore(db, clock)
  await app.register(cookie)
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
      secure: config.publicUrl.startsWith('https:'),
      maxAge: SESSION_MAX_AGE_MS
    }
  })
  await app.register(formbody)
  await app.register(fastifyStatic, { root: publicDir, prefix: '/public/', index: false })

  // Our plugins
  await app.register(security)
  await app.register(auth)
  await app.register(views, { orgName: config.orgName })
  await app.register(errors)

  // Services that run beside the requests
  try {
    await ensureConfiguredAdministrator(services.accounts, config)
  } catch (err) {
    await db.destroy()
    throw err
  }
  const pruner = setInterval(() => { sessionStore.prune().catch((err) => app.log.error({ err }, 'session prune failed')) }, PRUNE_EVERY_MS)
  pruner.unref()
  app.addHook('onClose', async () => {
    clearInterval(pruner)
    await db.destroy()
  })

  // Routes
  await app.register(healthRoutes)
  await app.register(setupRoutes)
  await app.register(signInRoutes)
  await app.register(portalHomeRoutes)
  await app.register(publisherRoutes, { prefix: '/admin' })

  return app
}
