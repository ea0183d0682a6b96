/** One bulk action's outcome, account by account. */
export interface BulkReport {
  title: string
  items: Array<{ id: number, name: string, email: string, done: boolean, reason: string | null }>
}

declare module 'fastify' {
  interface Session {
    /** The signed-in account; everything else about it is reloaded from the database per request. */
    accountId?: number
    /** A one-time message for the next page. */
    flash?: string
    /** What a bulk action on the Developers list did, for the page it redirects to (shown once). */
    bulkResult?: BulkReport
    /** Signed in through an identity provider: which, and its ID token sealed (the hint for signing out there). */
    provider?: { id: number, idTokenHint: string }
    /** Password (or provider) accepted, TOTP code still to come: no accountId until it is. */
    mfaPending?: { accountId: number, until: number, next: string, provider?: { id: number, idTokenHint: string } }
    /** @fastify/csrf-protection's secret. */
    _csrf?: string
  }
}

