import type { Knex } from 'knex'
import type { Config } from '../config'
import type { Clock } from './kernel/clock'
import { createPasswordHasher } from './accounts/passwords'
import { createPasswordChecks } from './accounts/password-checks'
import { createAccounts } from './accounts/accounts'
import { createSignIn } from './accounts/sign-in'
import { createDeveloperList } from './accounts/developer-list'
import { createInvitations } from './onboarding/invitations'
import { createSignUp } from './onboarding/sign-up'
import { createPasswordReset } from './onboarding/password-reset'
import { createProfile } from './profile/profile'
import { createGroups } from './groups/groups'
import { createTemplates } from './mail/templates'
import { countEmailProblems, createOutbox, findEmail, listEmails } from './mail/outbox'
import { createMailSender, createTransport } from './mail/sender'
import { createMailBudget } from './mail/mail-budget'
import { createSettings } from './settings/settings'
import { auditEvents, auditWriter, listAudit, type AuditFilter } from './audit/audit-log'
import { createEvents } from './kernel/events'
import { GATEWAY_EVENTS, createGatewayChanges } from './gateway/changes'
import { createAttemptLimits } from './kernel/attempt-limits'
import { createBackgroundWork } from './kernel/background-work'
import { createSealer } from './kernel/sealer'
import { createApis } from './catalog/apis'
import { createReferenceStore } from './catalog/reference/reference-store'
import { createDocumentWorkers } from './catalog/reference/worker-pool'
import { createProducts } from './catalog/products'
import { createKeyStore } from './subscriptions/key-store'
import { createSubscriptions } from './subscriptions/subscriptions'
import { createGateway, type GatewayOptions } from './gateway/gateway'
import { createMetrics } from './metrics/metrics'
import { createUsageReports } from './usage/usage-reports'
import { createApiTokens } from './api-tokens/api-tokens'
import { createCsvImport } from './transfer/csv-import'
import { createOverview } from './overview/overview'
import { createProviders } from './identity/providers'
import { createOidc } from './identity/oidc'
import { createProviderSignIn } from './identity/provider-sign-in'
import { createMfa } from './identity/mfa'
import { createOrganisations } from './organisations/organisations'

// A password check waits at most this long for a hashing slot before the answer is 503.
const PASSWORD_HASH_MAX_WAIT_MS = 5_000

/** Where services report failures of work that runs beside the requests. */
export type ErrorReporter = (err: unknown, what: string) => void

/**
 * Every service, built once from the configuration, the database and the clock. The portal
 * (`buildApp`) uses it, and so will the gateway and the JSON API: none of them reads a table itself.
 */
export function createServices (config: Config, db: Knex, clock: Clock, report: ErrorReporter, gatewayOptions: GatewayOptions = {}, readDb: Knex = db) {
  const hasher = createPasswordHasher(config.passwordHashCost, {
    concurrency: config.passwordHashConcurrency, queue: config.passwordHashQueue, maxWaitMs: PASSWORD_HASH_MAX_WAIT_MS
  })
  // Every change is recorded as an event in its own transaction; these hear them there.
  const events = createEvents()
  events.subscribe('audit log', 'every', auditWriter(clock))
  const gatewayChanges = createGatewayChanges()
  events.subscribe('gateway', GATEWAY_EVENTS, async (trx) => { await gatewayChanges.changed(trx) })
  const limits = createAttemptLimits({ db, clock })
  const passwordChecks = createPasswordChecks({ limits, hasher, limit: config.signInFailureLimit, windowMinutes: config.signInFailureWindowMinutes })
  const mailBudget = createMailBudget({ limits, perHour: config.emailsPerAddressPerHour })
  const background = createBackgroundWork((err) => { report(err, 'background work failed') })
  const linkSealer = createSealer(config.keySecret, 'outbox links')
  const templates = createTemplates({ db, clock, events })
  const settings = createSettings({ db, clock, events, orgName: config.orgName })
  const mailSender = createMailSender({
    db, clock, transport: createTransport(config.smtpUrl), from: config.mailFrom, sealer: linkSealer, onError: (err) => { report(err, 'mail sender failed') }
  })
  const outbox = createOutbox({ clock, templates, settings, publicUrl: config.publicUrl, sealer: linkSealer, onQueued: mailSender.poke })
  const { publicUrl } = config
  const confirmationTtlHours = config.invitationTtlHours
  const products = createProducts({ db, clock, events })
  const keySealer = createSealer(config.keySecret, 'subscription keys')
  // OpenAPI documents are read, validated and drawn in a worker thread; pages read what it drew.
  const documentWorkers = createDocumentWorkers()
  const accounts = createAccounts({ db, hasher, clock, events, outbox, publicUrl, linkTtlHours: config.invitationTtlHours })
  const groups = createGroups({ db, clock, events })
  // Built only when METRICS_TOKEN is set: nothing is counted for a scrape that cannot happen.
  const metrics = config.metricsToken === null ? null : createMetrics({ queuedEmails: async () => (await countEmailProblems(db)).waiting })
  const apis = createApis({ db, clock, events, secrets: createSealer(config.keySecret, 'backend credentials'), workers: documentWorkers, references: createReferenceStore(db, readDb), openapiMaxBytes: config.openapiMaxBytes })
  const oidc = createOidc({ db, clock, sealer: createSealer(config.keySecret, 'sign-in state') })
  const providers = createProviders({ db, clock, events, sealer: createSealer(config.keySecret, 'identity provider secrets'), discover: oidc.check })
  const profile = createProfile({ db, hasher, passwordChecks, clock, events, outbox, mailBudget, publicUrl, confirmationTtlHours })
  const mfa = createMfa({
    db, clock, events, outbox, limits, sealer: createSealer(config.keySecret, 'totp secrets'), keySecret: config.keySecret,
    issuer: async () => (await settings.chromeSettings()).orgName,
    checkPassword: profile.checkPassword
  })
  const invitations = createInvitations({ accounts, db, hasher, clock, events, outbox, publicUrl, ttlHours: config.invitationTtlHours })
  const organisations = createOrganisations({
    db, clock, events, outbox, invitations, publicUrl, ttlHours: config.invitationTtlHours,
    developersMayCreate: async () => (await settings.getSettings()).developersCreateOrganisations
  })
  // A Portico invitation accepted (by password or a provider) joins the organisations that invited that address.
  events.subscribe('organisations', ['invitation.accepted'], async (trx, accepted) => {
    for (const event of accepted) if (event.target?.id != null) await organisations.joinOnAcceptance(trx, event.target.id, event.actor)
  })

  return {
    accounts,
    signIn: createSignIn({ db, clock, passwordChecks }),
    developers: createDeveloperList(readDb),
    invitations,
    csvImport: createCsvImport({ db, clock, outbox, accounts, groups, invitations, report }),
    signUp: createSignUp({ accounts, db, hasher, clock, events, outbox, mailBudget, settings, publicUrl, confirmationTtlHours }),
    passwordReset: createPasswordReset({ db, hasher, passwordChecks, clock, events, outbox, mailBudget, publicUrl }),
    profile,
    groups,
    organisations,
    providers,
    oidc,
    providerSignIn: createProviderSignIn({ db, clock, events, accounts, groups }),
    mfa,
    apis,
    documentWorkers,
    products,
    subscriptions: createSubscriptions({ db, clock, events, outbox, products, keys: createKeyStore(keySealer), publicUrl }),
    gateway: createGateway({ db, readDb, clock, changes: gatewayChanges, openSecrets: apis.openSecrets, metrics, outbox, report, concurrentCalls: config.gatewayConcurrentCalls }, gatewayOptions),
    usage: createUsageReports({ db, clock }),
    overview: createOverview({ db: readDb, clock }),
    apiTokens: createApiTokens({ db, clock, events, defaultDays: config.apiTokenTtlDays }),
    templates,
    outbox,
    mailSender,
    emails: {
      list: async (page: number | undefined) => await listEmails(db, page),
      // Without SMTP an administrator is the only way an invitation link reaches anyone: show those.
      find: async (id: number) => await findEmail(db, id, { sealer: mailSender.enabled ? null : linkSealer }),
      countProblems: async () => await countEmailProblems(db)
    },
    audit: {
      list: async (filter: AuditFilter, page: number | undefined) => await listAudit(db, filter, page),
      events: (filter: AuditFilter) => auditEvents(db, filter)
    },
    settings,
    events,
    // The services' clock, for the few time checks a route makes itself (the two-step sign-in's deadline).
    clock,
    metrics,
    limits,
    background,
    linkSealer,
    health: {
      databaseAnswers: async (): Promise<void> => { await db.raw('select 1') }
    }
  }
}

export type Services = ReturnType<typeof createServices>
