import { performance } from 'node:perf_hooks'

/** A signed-out visitor with the CSRF cookie and token of a page, ready to post its form. */
export interface Visitor {
  cookie: string
  csrf: string
}

export async function visit (base: string, path: string, headers: Record<string, string> = {}): Promise<Visitor> {
  const res = await fetch(`${base}${path}`, { headers })
  const html = await res.text()
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '' }
}

/** Posts a form; resolves with the status and how long the answer took (ms). */
export async function postForm (base: string, path: string, visitor: Visitor, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number, ms: number }> {
  const started = performance.now()
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: visitor.cookie, ...headers },
    body: new URLSearchParams({ _csrf: visitor.csrf, ...fields }).toString()
  })
  await res.arrayBuffer()
  return { status: res.status, ms: performance.now() - started }
}

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))]
}

/** A browser-like session over fetch: cookies kept, the last page's CSRF token remembered. */
export interface Session { cookie: string, csrf: string }

export async function sessionRequest (base: string, session: Session, path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${base}${path}`, { redirect: 'manual', ...init, headers: { cookie: session.cookie, ...(init.headers ?? {}) } })
  const cookies = new Map(session.cookie.split('; ').filter((c) => c !== '').map((c) => c.split('=', 2) as [string, string]))
  for (const set of res.headers.getSetCookie()) {
    const [name, value] = set.split(';')[0].split('=', 2)
    cookies.set(name, value)
  }
  session.cookie = [...cookies].map(([n, v]) => `${n}=${v}`).join('; ')
  return res
}

/** Loads a page in the session and keeps its CSRF token; answers its HTML. */
export async function sessionPage (base: string, session: Session, path: string): Promise<string> {
  const html = await (await sessionRequest(base, session, path)).text()
  session.csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? session.csrf
  return html
}
