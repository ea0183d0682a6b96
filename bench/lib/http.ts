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
