import type { AddressInfo } from 'node:net'
import autocannon from 'autocannon'
import { run, withApp } from './lib/app'
import { githubDocument } from '../test/fixtures/openapi'
const ACTOR = { id: null, label: 'bench', ip: null }
run(async () => {
  await withApp({ PASSWORD_HASH_COST: '10' }, async (app) => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const guests = (await app.db('groups').where('system_key', 'guests').first()).id as number
    const api = await app.services.apis.createApi({ name: 'GitHub', path: 'github', serviceUrl: 'http://127.0.0.1:9', description: '', openapi: githubDocument() }, ACTOR)
    const product = await app.services.products.createProduct({ name: 'Open', description: '', state: 'published', subscriptionRequired: true, approvalRequired: false, subscriptionsLimit: '', terms: '', rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: '', quotaPeriod: '' }, ACTOR)
    await app.services.products.addApi(product.id, api.id, ACTOR)
    await app.services.products.addGroup(product.id, guests, ACTOR)
    const r = await autocannon({ url: `${base}/apis/${api.id}/operations/projects%2Fupdate-item-for-org`, connections: 4, duration: 8 })
    console.log(r.requests.average, r.latency.p50)
  })
})
