import { createHmac, hkdfSync, randomInt } from 'node:crypto'
import type { Knex } from 'knex'
import { generateSecret, generateURI, verifySync } from 'otplib'
import QRCode from 'qrcode'
import type { Actor, Events } from '../kernel/events'
import { isoNow, type Clock } from '../kernel/clock'
import { Invalid, Refused, TooManyRequests } from '../kernel/errors'
import type { Sealer } from '../kernel/sealer'
import type { AttemptLimits } from '../kernel/attempt-limits'
import type { Outbox } from '../mail/outbox'
import type { Account } from '../accounts/account-store'

export const RECOVERY_CODES = 10
/** Wrong codes allowed before the step locks, and for how long. */
export const MFA_FAILURE_LIMIT = 5
export const MFA_LOCK_MS = 15 * 60_000
const PERIOD_SECONDS = 30
// Letters and digits that cannot be mistaken for one another (no 0/o, 1/l/i).
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'

export interface MfaStatus {
  enabled: boolean
  enabledAt: string | null
  recoveryCodesLeft: number
}

export interface Enrolment {
  secret: string
  /** The otpauth:// URI the QR code holds. */
  uri: string
  /** The QR code, drawn on the server as SVG markup. */
  svg: string
}

/** A recovery code as typed: lower case, without spaces or dashes. */
function normalizedRecoveryCode (code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '')
}

function newRecoveryCode (): string {
  const chars = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)])
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`
}

export interface MfaDeps {
  db: Knex
  clock: Clock
  events: Events
  outbox: Outbox
  limits: AttemptLimits
  /** Seals TOTP secrets (KEY_SECRET). */
  sealer: Sealer
  keySecret: string
  /** The issuer name authenticator apps show (the organisation's name). */
  issuer: () => Promise<string>
  /** The account's password, or Invalid beside `field`. */
  checkPassword: (accountId: number, password: string, field: string) => Promise<unknown>
}

/**
 * Two-step sign-in with TOTP (RFC 6238: 6 digits, 30 s steps, one step either side): enrolment
 * with a QR code, sign-in codes each accepted once, 10 single-use recovery codes kept as HMACs,
 * 5 wrong codes lock the step for 15 minutes. Secrets are sealed with KEY_SECRET.
 */
export function createMfa ({ db, clock, events, outbox, limits, sealer, keySecret, issuer, checkPassword }: MfaDeps) {
  const recoveryKey = Buffer.from(hkdfSync('sha256', keySecret, 'portico', 'recovery codes', 32))
  const hashOf = (code: string): string => createHmac('sha256', recoveryKey).update(normalizedRecoveryCode(code)).digest('hex')
  const epoch = (): number => Math.floor(clock.now().getTime() / 1000)

  const record = async (trx: Knex.Transaction, actor: Actor, action: 'developer.mfa-enabled' | 'developer.mfa-disabled' | 'developer.mfa-reset' | 'developer.recovery-codes-renewed', account: Pick<Account, 'id' | 'email'>): Promise<void> => {
    await events.record(trx, { actor, action, target: { type: 'developer', id: account.id, label: account.email } })
  }

  async function status (accountId: number): Promise<MfaStatus> {
    const row = await db('account_mfa').where('developer_id', accountId).whereNotNull('enabled_at').first('enabled_at')
    if (row === undefined) return { enabled: false, enabledAt: null, recoveryCodesLeft: 0 }
    const left = await db('mfa_recovery_codes').where('developer_id', accountId).whereNull('used_at').count({ n: '*' }).first()
    return { enabled: true, enabledAt: row.enabled_at, recoveryCodesLeft: Number(left?.n ?? 0) }
  }

  async function isEnabled (accountId: number): Promise<boolean> {
    return await db('account_mfa').where('developer_id', accountId).whereNotNull('enabled_at').first('developer_id') !== undefined
  }

  async function enrolmentFor (account: Pick<Account, 'email'>, secret: string): Promise<Enrolment> {
    const uri = generateURI({ issuer: await issuer(), label: account.email, secret })
    return { secret, uri, svg: await QRCode.toString(uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }) }
  }

  /** The secret to enrol with: the one already shown (until a code confirms it), or a new one. */
  async function beginEnrolment (account: Pick<Account, 'id' | 'email'>): Promise<Enrolment> {
    const row = await db('account_mfa').where('developer_id', account.id).first('secret', 'enabled_at')
    if (row?.enabled_at != null) throw new Refused('Two-step sign-in is already on for this account.')
    const opened = row === undefined ? null : sealer.open(row.secret)
    if (opened !== null) return await enrolmentFor(account, opened)
    const secret = generateSecret()
    await db('account_mfa').insert({ developer_id: account.id, secret: sealer.seal(secret), enabled_at: null, last_time_step: null, created_at: isoNow(clock) })
      .onConflict('developer_id').merge({ secret: sealer.seal(secret), enabled_at: null, last_time_step: null })
    return await enrolmentFor(account, secret)
  }

  /** The time step a code matches for this secret (one step either side), or null. */
  function matchingStep (secret: string, code: string): number | null {
    if (!/^\d{6}$/.test(code)) return null
    const now = epoch()
    const result = verifySync({ secret, token: code, epoch: now, period: PERIOD_SECONDS, epochTolerance: PERIOD_SECONDS })
    return result.valid ? Math.floor(now / PERIOD_SECONDS) + result.delta : null
  }

  async function newRecoveryCodes (trx: Knex.Transaction, accountId: number): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode)
    const now = isoNow(clock)
    await trx('mfa_recovery_codes').where('developer_id', accountId).del()
    await trx('mfa_recovery_codes').insert(codes.map((code) => ({ developer_id: accountId, code_hash: hashOf(code), used_at: null, created_at: now })))
    return codes
  }

  /** Confirms enrolment with a first code: two-step sign-in is on, and the recovery codes are made (shown once). */
  async function confirmEnrolment (account: Pick<Account, 'id' | 'email'>, code: string, actor: Actor): Promise<string[]> {
    const row = await db('account_mfa').where('developer_id', account.id).first('secret', 'enabled_at')
    if (row === undefined) throw new Invalid({ code: 'Start again: the page shows a new QR code.' })
    if (row.enabled_at !== null) throw new Refused('Two-step sign-in is already on for this account.')
    const secret = sealer.open(row.secret)
    const step = secret === null ? null : matchingStep(secret, code.trim())
    if (step === null) throw new Invalid({ code: 'That code is not right. Enter the 6 digits your app shows now.' })
    return await db.transaction(async (trx) => {
      const updated = await trx('account_mfa').where('developer_id', account.id).whereNull('enabled_at').update({ enabled_at: isoNow(clock), last_time_step: step })
      if (updated === 0) throw new Refused('Two-step sign-in is already on for this account.')
      const codes = await newRecoveryCodes(trx, account.id)
      await record(trx, actor, 'developer.mfa-enabled', account)
      return codes
    })
  }

  /**
   * The second step of a sign-in: a code from the app (each accepted once, however many requests
   * bring it at once) or an unused recovery code. Past 5 wrong codes: TooManyRequests for 15 minutes.
   */
  async function verify (accountId: number, input: string): Promise<{ recoveryCodeUsed: boolean }> {
    const reservation = await limits.reserve('mfa-code', String(accountId), MFA_FAILURE_LIMIT, MFA_LOCK_MS)
    if (!reservation.allowed) {
      throw new TooManyRequests(`Too many wrong codes. Try again in ${Math.ceil(reservation.retryAfterSeconds / 60)} minutes.`, reservation.retryAfterSeconds)
    }
    const code = input.trim()
    const row = await db('account_mfa').where('developer_id', accountId).whereNotNull('enabled_at').first('secret', 'last_time_step')
    if (row === undefined) throw new Invalid({ code: 'Two-step sign-in is not on for this account.' })
    const secret = sealer.open(row.secret)
    const step = secret === null ? null : matchingStep(secret, code)
    if (step !== null) {
      // Accepted only if no code of this step or a later one was: one conditional write, so a replay loses.
      const updated = await db('account_mfa').where('developer_id', accountId)
        .where((w) => { void w.whereNull('last_time_step').orWhere('last_time_step', '<', step) })
        .update({ last_time_step: step })
      if (updated === 1) {
        await limits.clear('mfa-code', String(accountId))
        return { recoveryCodeUsed: false }
      }
      throw new Invalid({ code: 'This code was already used. Wait for the next one your app shows.' })
    }
    if (/^[a-z0-9]{5}-?[a-z0-9]{5}$/i.test(code.replace(/\s/g, ''))) {
      const used = await db('mfa_recovery_codes').where({ developer_id: accountId, code_hash: hashOf(code) }).whereNull('used_at').update({ used_at: isoNow(clock) })
      if (used === 1) {
        await limits.clear('mfa-code', String(accountId))
        return { recoveryCodeUsed: true }
      }
    }
    throw new Invalid({ code: 'That code is not right. Enter the 6 digits your app shows now, or one of your recovery codes.' })
  }

  async function renewRecoveryCodes (account: Pick<Account, 'id' | 'email'>, actor: Actor): Promise<string[]> {
    if (!(await isEnabled(account.id))) throw new Refused('Turn two-step sign-in on first.')
    return await db.transaction(async (trx) => {
      const codes = await newRecoveryCodes(trx, account.id)
      await record(trx, actor, 'developer.recovery-codes-renewed', account)
      return codes
    })
  }

  async function remove (trx: Knex.Transaction, accountId: number): Promise<number> {
    await trx('mfa_recovery_codes').where('developer_id', accountId).del()
    return await trx('account_mfa').where('developer_id', accountId).del()
  }

  /** Turns it off: the password and a current code (or a recovery code) are both needed. */
  async function disable (account: Pick<Account, 'id' | 'email'>, password: string, code: string, actor: Actor): Promise<void> {
    await checkPassword(account.id, password, 'password')
    await verify(account.id, code)
    await db.transaction(async (trx) => {
      await remove(trx, account.id)
      await record(trx, actor, 'developer.mfa-disabled', account)
    })
  }

  /** An administrator's reset (a lost phone): the account enrols again at its next sign-in; its owner is mailed. */
  async function reset (account: Account, actor: Actor): Promise<void> {
    await db.transaction(async (trx) => {
      if (await remove(trx, account.id) === 0) throw new Refused('Two-step sign-in is not on for this account.')
      await limits.clear('mfa-code', String(account.id), trx)
      await record(trx, actor, 'developer.mfa-reset', account)
      await outbox.queueEmail(trx, 'mfa-reset', account)
    })
  }

  return { status, isEnabled, beginEnrolment, confirmEnrolment, verify, renewRecoveryCodes, disable, reset }
}

export type Mfa = ReturnType<typeof createMfa>
