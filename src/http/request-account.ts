import type { FastifyRequest } from 'fastify'
import type { SignedInAccount } from '../services/accounts/sign-in'
import type { Actor } from '../services/kernel/events'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who is calling, as of this request: in the portal, the session's account (reloaded from the
     * database on every request); in the management API, the token's. Null when signed out.
     */
    account: SignedInAccount | null
  }
}

/** The calling account as the actor of a recorded change. */
export function actorOf (request: FastifyRequest): Actor {
  const account = request.account
  return { id: account?.id ?? null, label: account?.email ?? 'anonymous', ip: request.ip }
}

/** The signed-in account, on a route whose guard has made sure there is one. */
export function signedIn (request: FastifyRequest): SignedInAccount {
  if (request.account === null) throw new Error(`${request.routeOptions.url ?? request.url}: no account; is the route missing its guard?`)
  return request.account
}
