import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

export interface Config {
  port: number
  host: string
  dataDir: string
  /** `sqlite:PATH` or `postgres://…` */
  databaseUrl: string
  publicUrl: string
  sessionSecret: string
  smtpUrl: string | null
  mailFrom: string
  orgName: string
  adminEmail: string | null
  adminPassword: string | null
  invitationTtlHours: number
  /** API_TOKEN_TTL_DAYS: the default lifetime of a management API token. */
  apiTokenTtlDays: number
  /**
   * Which X-Forwarded-For hops to believe when working out the client address: false (none), a hop
   * count (`true` is one hop), or the addresses/CIDRs of the proxies. Never every hop.
   */
  trustProxy: false | number | string[]
  /** The base developers call: `$PUBLIC_URL/gateway` unless set; shown on API pages and in examples. */
  gatewayUrl: string
  /** GATEWAY_PORT: also serve the gateway alone on this port (null: only inside the portal's server). */
  gatewayPort: number | null
  /** GATEWAY_CONCURRENT_CALLS: calls one subscription (or one keyless client) may have in progress at once, per instance. */
  gatewayConcurrentCalls: number
  /** GATEWAY_BACKEND_CONNECTIONS: connections (so calls in progress) per backend, per instance. */
  gatewayBackendConnections: number
  /** Encrypts secrets kept at rest (emailed links until delivered; subscription keys). */
  keySecret: string
  /** OPENAPI_MAX_MB: the largest OpenAPI document accepted, in bytes. */
  openapiMaxBytes: number
  /** TRY_PER_MINUTE: "Try it" calls per account per minute. */
  tryPerMinute: number
  /** METRICS_TOKEN: the bearer token GET /metrics answers to; null: /metrics is 404. */
  metricsToken: string | null
  /** Requests a minute per client address on sign-in, sign-up, password reset and invitation acceptance. */
  rateLimitPerMinute: number
  /** Failed sign-ins allowed per email within signInFailureWindowMinutes. */
  signInFailureLimit: number
  signInFailureWindowMinutes: number
  /** log2 of scrypt's N for new password hashes (17 in production; tests lower it). */
  passwordHashCost: number
  /** Password hashes computed at once; more wait in a short queue, beyond it 503. */
  passwordHashConcurrency: number
  passwordHashQueue: number
  /** Emails a visitor can have sent to one address in an hour (reset, confirmation, email change). */
  emailsPerAddressPerHour: number
  logLevel: string
}

/** Bad configuration: names the variable, so start-up can stop with one clear line. */
export class ConfigError extends Error {
  constructor (readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`)
  }
}

type Env = Record<string, string | undefined>

function text (env: Env, name: string): string | null {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? null : value
}

function integer (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name)
  if (raw === null) return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

function isAddressOrCidr (entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

/** TRUST_PROXY: false, true (one hop), a hop count, or a comma-separated list of proxy addresses/CIDRs. */
function trustProxy (env: Env): false | number | string[] {
  const name = 'TRUST_PROXY'
  const raw = text(env, name)
  if (raw === null || raw === 'false') return false
  if (raw === 'true') return 1
  if (/^\d+$/.test(raw)) return integer(env, name, 1, 1, 20)
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  const bad = entries.find((entry) => !isAddressOrCidr(entry))
  if (entries.length === 0 || bad !== undefined) {
    throw new ConfigError(name, `must be false, true, a hop count or a comma-separated list of proxy addresses or CIDRs, got "${bad ?? raw}"`)
  }
  return entries
}

function url (name: string, raw: string, protocols: string[]): string {
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(name, `is not a valid URL: "${raw}"`)
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${raw}"`)
  }
  return raw
}

function databaseUrl (env: Env, dataDir: string): string {
  const raw = text(env, 'DATABASE_URL')
  if (raw === null) return `sqlite:${join(dataDir, 'portico.sqlite')}`
  if (raw.startsWith('sqlite:')) {
    if (raw.length === 'sqlite:'.length) throw new ConfigError('DATABASE_URL', 'sqlite: needs a file path, e.g. sqlite:./data/portico.sqlite')
    return raw
  }
  return url('DATABASE_URL', raw, ['postgres:', 'postgresql:'])
}

/**
 * A secret given in the environment, or generated once and kept (owner-readable only) in the data
 * folder, so what it protects survives restarts.
 */
function secret (env: Env, name: string, dataDir: string, fileName: string): string {
  const given = text(env, name)
  if (given !== null) {
    if (given.length < 32) throw new ConfigError(name, 'must be at least 32 characters long')
    return given
  }
  const file = join(dataDir, fileName)
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim()
    if (stored.length >= 32) return stored
  }
  const generated = randomBytes(48).toString('base64url')
  writeFileSync(file, generated + '\n', { mode: 0o600 })
  return generated
}

/** First path segments the portal serves itself: the gateway cannot be mounted under them. */
const PORTAL_PATHS = ['admin', 'api', 'apis', 'metrics', 'products', 'subscriptions', 'profile', 'signin', 'signout', 'signup', 'confirm', 'invitations',
  'password-reset', 'setup', 'public', 'healthz']

/** A token long enough not to be guessed: 16 characters or more, printable, no spaces. */
function metricsToken (env: Env): string | null {
  const token = text(env, 'METRICS_TOKEN')
  if (token === null) return null
  if (!/^[\x21-\x7e]{16,512}$/.test(token)) throw new ConfigError('METRICS_TOKEN', 'must be 16 to 512 printable characters without spaces (such as the output of `openssl rand -hex 32`)')
  return token
}

export function loadConfig (env: Env = process.env): Config {
  const port = integer(env, 'PORT', 3000, 0, 65535)
  const dataDir = resolve(text(env, 'DATA_DIR') ?? './data')
  try {
    mkdirSync(dataDir, { recursive: true })
  } catch (err) {
    throw new ConfigError('DATA_DIR', `cannot create folder ${dataDir}: ${(err as Error).message}`)
  }
  const publicUrl = url('PUBLIC_URL', text(env, 'PUBLIC_URL') ?? `http://localhost:${port}`, ['http:', 'https:']).replace(/\/+$/, '')
  const smtpUrl = text(env, 'SMTP_URL')
  const adminEmail = text(env, 'ADMIN_EMAIL')
  const adminPassword = env.ADMIN_PASSWORD ?? null
  if ((adminEmail === null) !== (adminPassword === null || adminPassword === '')) {
    throw new ConfigError(adminEmail === null ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD', 'ADMIN_EMAIL and ADMIN_PASSWORD must be set together')
  }
  const gatewayUrl = url('GATEWAY_URL', text(env, 'GATEWAY_URL') ?? `${publicUrl}/gateway`, ['http:', 'https:']).replace(/\/+$/, '')
  const gatewayRoot = new URL(gatewayUrl).pathname.split('/')[1] ?? ''
  if (PORTAL_PATHS.includes(gatewayRoot)) throw new ConfigError('GATEWAY_URL', `its path /${gatewayRoot} is one of the portal's own; choose another, such as /gateway`)
  const gatewayPort = text(env, 'GATEWAY_PORT') === null ? null : integer(env, 'GATEWAY_PORT', 0, 1, 65535)
  if (gatewayPort !== null && gatewayPort === port) throw new ConfigError('GATEWAY_PORT', `must differ from PORT (${port})`)
  return {
    port,
    host: text(env, 'HOST') ?? '127.0.0.1',
    dataDir,
    databaseUrl: databaseUrl(env, dataDir),
    publicUrl,
    gatewayPort,
    gatewayUrl,
    gatewayConcurrentCalls: integer(env, 'GATEWAY_CONCURRENT_CALLS', 64, 1, 100000),
    gatewayBackendConnections: integer(env, 'GATEWAY_BACKEND_CONNECTIONS', 128, 1, 100000),
    sessionSecret: secret(env, 'SESSION_SECRET', dataDir, 'session-secret'),
    keySecret: secret(env, 'KEY_SECRET', dataDir, 'key-secret'),
    smtpUrl: smtpUrl === null ? null : url('SMTP_URL', smtpUrl, ['smtp:', 'smtps:']),
    mailFrom: text(env, 'MAIL_FROM') ?? 'Portico <no-reply@localhost>',
    orgName: text(env, 'ORG_NAME') ?? 'Portico',
    adminEmail,
    adminPassword: adminEmail === null ? null : adminPassword,
    invitationTtlHours: integer(env, 'INVITATION_TTL_HOURS', 48, 1, 24 * 365),
    apiTokenTtlDays: integer(env, 'API_TOKEN_TTL_DAYS', 90, 1, 3650),
    trustProxy: trustProxy(env),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 30, 1, 100000),
    openapiMaxBytes: integer(env, 'OPENAPI_MAX_MB', 32, 1, 256) * 1024 * 1024,
    tryPerMinute: integer(env, 'TRY_PER_MINUTE', 30, 1, 100000),
    metricsToken: metricsToken(env),
    signInFailureLimit: integer(env, 'SIGNIN_FAILURE_LIMIT', 10, 1, 100000),
    signInFailureWindowMinutes: integer(env, 'SIGNIN_FAILURE_WINDOW_MINUTES', 15, 1, 24 * 60),
    passwordHashCost: integer(env, 'PASSWORD_HASH_COST', 17, 10, 20),
    passwordHashConcurrency: integer(env, 'PASSWORD_HASH_CONCURRENCY', 2, 1, 64),
    passwordHashQueue: integer(env, 'PASSWORD_HASH_QUEUE', 16, 0, 10000),
    emailsPerAddressPerHour: integer(env, 'EMAILS_PER_ADDRESS_PER_HOUR', 5, 1, 100000),
    logLevel: text(env, 'LOG_LEVEL') ?? 'info'
  }
}

/**
 * Where the gateway is served: the path of GATEWAY_URL (on its own port, even the root); inside
 * the portal's server a path of its own is needed, `/gateway` when GATEWAY_URL has none.
 */
export function gatewayPaths (config: Config): { portal: string, own: string } {
  const path = new URL(config.gatewayUrl).pathname.replace(/\/+$/, '')
  return { portal: path === '' ? '/gateway' : path, own: path }
}
