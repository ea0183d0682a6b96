import type { AttemptLimits } from '../kernel/attempt-limits'
import { normalizeEmail } from '../accounts/account-store'
import { TooManyRequests } from '../kernel/errors'

const HOUR_MS = 3_600_000

/**
 * The emails a visitor can have sent to one address (password reset, sign-up, confirmation resend,
 * email change), counted per address across instances. Counted whether or not the email will go
 * out, so the answer reveals nothing; past the hourly limit, 429.
 */
export function createMailBudget ({ limits, perHour }: { limits: AttemptLimits, perHour: number }) {
  async function reserve (address: string): Promise<void> {
    const reservation = await limits.reserve('email-sent', normalizeEmail(address), perHour, HOUR_MS)
    if (!reservation.allowed) {
      throw new TooManyRequests('Too many emails were asked for this address. Wait a while and try again.', reservation.retryAfterSeconds)
    }
  }

  return { reserve }
}

export type MailBudget = ReturnType<typeof createMailBudget>
