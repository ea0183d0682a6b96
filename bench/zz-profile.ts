import { run, withApp } from './lib/app'
import { githubDocument } from '../test/fixtures/openapi'
const ACTOR = { id: null, label: 'bench', ip: null }
run(async () => {
  await withApp({ PASSWORD_HASH_COST: '10' }, async (app) => {
    const guests = (await app.db('groups').where('system_key', 'guests').first()).id as number
    const api = await app.services.apis.createApi({ name: 'GitHub', path: 'github', serviceUrl: 'http://127.0.0.1:9', description: '', openapi: githubDocument() }, ACTOR)
    const product = await app.services.products.createProduct({ name: 'Open', description: '', state: 'published', subscriptionRequired: true, approvalRequired: false, subscriptionsLimit: '', terms: '', rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: '', quotaPeriod: '' }, ACTOR)
    await app.services.products.addApi(product.id, api.id, ACTOR)
    await app.services.products.addGroup(product.id, guests, ACTOR)
    const url = `/apis/${api.id}/operations/projects%2Fupdate-item-for-org`
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now()
      for (let i = 0; i < 50; i++) await app.inject({ url })
      console.log('sequential ms/page', ((performance.now() - t0) / 50).toFixed(1))
    }
    const src = app.services.apis.references.source(api.id)
    let t0 = performance.now(); for (let i = 0; i < 50; i++) await src.operation('projects/update-item-for-org'); console.log('read+parse', ((performance.now() - t0) / 50).toFixed(2))
    t0 = performance.now(); for (let i = 0; i < 50; i++) await src.overview(); console.log('overview', ((performance.now() - t0) / 50).toFixed(2))
    t0 = performance.now(); for (let i = 0; i < 50; i++) await app.services.products.findVisibleApi(api.id, null); console.log('findVisibleApi', ((performance.now() - t0) / 50).toFixed(2))
    t0 = performance.now(); for (let i = 0; i < 50; i++) await app.inject({ url: '/healthz' }); console.log('healthz', ((performance.now() - t0) / 50).toFixed(2))
  })
})
