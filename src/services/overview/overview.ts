import type { Knex } from 'knex'
import type { Clock } from '../kernel/clock'
import { countEmailProblems } from '../mail/outbox'
import { pendingInvitations as pendingInvitationRows } from '../onboarding/invitations'

const DAY_MS = 86_400_000

export interface Overview {
  /** Active accounts outside Administrators. */
  activeDevelopers: number
  pendingInvitations: number
  subscriptionRequests: number
  apis: number
  products: number
  publishedProducts: number
  /** Gateway calls since midnight UTC, and those answered 4xx or 5xx (by the backend or the gateway). */
  callsToday: number
  errorsToday: number
  failedEmails: number
  /** The getting-started steps (a product counts once it has an API), done or not; all done: the list is no longer shown. */
  steps: { api: boolean, product: boolean, published: boolean, invited: boolean }
}

type Count = number | string | null

/** The publisher's home: what needs doing and how the program is going, each figure one query. */
export function createOverview ({ db, clock }: { db: Knex, clock: Clock }) {
  async function countOf (q: Knex.QueryBuilder): Promise<number> {
    const row: { n: Count } | undefined = await q.first(db.raw('count(*) as n'))
    return Number(row?.n ?? 0)
  }

  async function overview (): Promise<Overview> {
    const today = Math.floor(clock.now().getTime() / DAY_MS) * DAY_MS
    // Exact totals per state kept by triggers (group 0: everyone), so a million accounts cost no scan.
    const counts = db('developer_counts').leftJoin('groups', 'groups.id', 'developer_counts.group_id')
      .where((w) => { void w.where('developer_counts.group_id', 0).orWhere('groups.system_key', 'administrators') })
      .select('developer_counts.group_id', 'developer_counts.state', 'developer_counts.n') as Promise<Array<{ group_id: number, state: string, n: Count }>>
    // A new install has Starter and Unlimited, unpublished and empty: the steps count products with an API.
    const withApi = db('product_apis').select('product_id')
    const [countRows, pendingInvitations, subscriptionRequests, apis, products, publishedProducts, productsWithApi, publishedWithApi, usage, emails] = await Promise.all([
      counts,
      countOf(pendingInvitationRows(db)),
      countOf(db('subscriptions').where('state', 'submitted')),
      countOf(db('apis')),
      countOf(db('products')),
      countOf(db('products').where('state', 'published')),
      countOf(db('products').whereIn('id', withApi)),
      countOf(db('products').where('state', 'published').whereIn('id', withApi)),
      db('gateway_usage').where('hour', '>=', today)
        .first(db.raw('coalesce(sum(calls), 0) as calls'), db.raw('coalesce(sum(case when status_class >= 4 then calls else 0 end), 0) as errors')) as Promise<{ calls: Count, errors: Count } | undefined>,
      countEmailProblems(db)
    ])
    // Everyone counted minus the administrators among them.
    const sum = (rows: typeof countRows, state?: string): number => rows.filter((r) => state === undefined || r.state === state).reduce((n, r) => n + Number(r.n ?? 0), 0)
    const everyone = countRows.filter((r) => Number(r.group_id) === 0)
    const administrators = countRows.filter((r) => Number(r.group_id) !== 0)
    const activeDevelopers = sum(everyone, 'active') - sum(administrators, 'active')
    // Anyone ever invited, or any developer at all (added, imported or signed up): the step is done.
    const developersEver = sum(everyone) - sum(administrators)
    return {
      activeDevelopers,
      pendingInvitations,
      subscriptionRequests,
      apis,
      products,
      publishedProducts,
      callsToday: Number(usage?.calls ?? 0),
      errorsToday: Number(usage?.errors ?? 0),
      failedEmails: emails.failed,
      steps: { api: apis > 0, product: productsWithApi > 0, published: publishedWithApi > 0, invited: developersEver > 0 }
    }
  }

  return { overview }
}
