import t from 'tap'
import { checkProduct, productInput, type ProductInput } from '../../src/services/catalog/products'

const base: ProductInput = {
  name: ' Starter ', description: '', state: 'published', subscriptionRequired: true, approvalRequired: false,
  subscriptionsLimit: '', terms: '', rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: '', quotaPeriod: ''
}
const fieldsOf = (input: Partial<ProductInput>): Record<string, string> => {
  try {
    checkProduct({ ...base, ...input })
  } catch (err) {
    return (err as { fields: Record<string, string> }).fields
  }
  return {}
}

t.test('a product\'s fields: numbers in range or blank, limits and quotas in pairs, approval only with subscriptions', async (t) => {
  const values = checkProduct({ ...base, subscriptionsLimit: ' 3 ', rateLimitCalls: '10', rateLimitPeriod: '60', quotaCalls: '1000', quotaPeriod: 'month' })
  t.match(values, { name: 'Starter', subscriptionsLimit: 3, rateLimitCalls: 10, rateLimitPeriod: 60, quotaCalls: 1000, quotaPeriod: 'month' })
  t.match(checkProduct(base), { subscriptionsLimit: null, rateLimitCalls: null, quotaCalls: null, quotaPeriod: null }, 'blank is none')
  t.same(Object.keys(fieldsOf({ name: '' })), ['name'])
  t.match(fieldsOf({ subscriptionsLimit: '0' }), { subscriptionsLimit: /whole number from 1/ })
  t.match(fieldsOf({ subscriptionsLimit: '1.5' }), { subscriptionsLimit: /whole number/ })
  t.match(fieldsOf({ rateLimitCalls: '10' }), { rateLimitPeriod: /both the number of calls and the period/ })
  t.match(fieldsOf({ rateLimitPeriod: '60' }), { rateLimitCalls: /both/ })
  t.match(fieldsOf({ quotaCalls: '5' }), { quotaPeriod: /both/ })
  t.match(fieldsOf({ quotaPeriod: 'year' }), { quotaPeriod: /day, a week or a month/ })
  t.match(fieldsOf({ approvalRequired: true, subscriptionRequired: false }), { approvalRequired: /Approval needs subscriptions/ })
  t.match(fieldsOf({ state: 'live' }), { state: /Published or Not published/ })
})

t.test('a stored product\'s form values pass its own check unchanged', async (t) => {
  const values = checkProduct({ ...base, rateLimitCalls: '10', rateLimitPeriod: '60' })
  const stored = { ...values, id: 1, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' }
  t.same(checkProduct(productInput(stored)), values)
})
