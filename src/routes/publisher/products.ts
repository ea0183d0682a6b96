import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { PRODUCT_DESCRIPTION_MAX, PRODUCT_NAME_MAX, QUOTA_PERIODS, TERMS_MAX, productInput, type ProductInput } from '../../services/catalog/products'
import { checkbox, formSchema, keptValues, showFormErrors, type FormBody } from '../shared/forms'
import { formId, idParams, parseId } from '../shared/params'
import { actorOf } from '../../http/request-account'

const NUMBER_TEXT = 40
const productForm = formSchema({
  name: PRODUCT_NAME_MAX * 4,
  description: PRODUCT_DESCRIPTION_MAX * 4,
  state: 20,
  subscriptionsLimit: NUMBER_TEXT,
  terms: TERMS_MAX * 4,
  rateLimitCalls: NUMBER_TEXT,
  rateLimitPeriod: NUMBER_TEXT,
  quotaCalls: NUMBER_TEXT,
  quotaPeriod: NUMBER_TEXT
}, { subscriptionRequired: checkbox(), approvalRequired: checkbox(), ipAllow: Type.Optional(Type.String({ maxLength: 100_000 })) })
type ProductForm = FormBody<typeof productForm>
const apiForm = formSchema({ apiId: NUMBER_TEXT })
const groupForm = formSchema({ groupId: NUMBER_TEXT })
const deleteForm = formSchema({}, { cancelSubscriptions: checkbox() })
const pairParams = (second: string) => ({
  params: { type: 'object', properties: { id: { type: 'string', maxLength: 40 }, [second]: { type: 'string', maxLength: 40 } }, required: ['id', second] }
})

function input (body: ProductForm): ProductInput {
  return { ...body, subscriptionRequired: body.subscriptionRequired === 'on', approvalRequired: body.approvalRequired === 'on' }
}

/** Checkboxes as the form shows them: ticked when "on". */
function formValues (values: ProductInput): Record<string, unknown> {
  return { ...values, subscriptionRequired: values.subscriptionRequired ? 'on' : undefined, approvalRequired: values.approvalRequired ? 'on' : undefined }
}

const NEW_PRODUCT: ProductInput = {
  name: '', description: '', state: 'notPublished', subscriptionRequired: true, approvalRequired: false, subscriptionsLimit: '', terms: '',
  rateLimitCalls: '', rateLimitPeriod: '', quotaCalls: '', quotaPeriod: '', ipAllow: ''
}

export default async function productRoutes (app: FastifyInstance): Promise<void> {
  const { products, apis, groups } = app.services

  async function showPage (id: number, data: Record<string, unknown> = {}) {
    const product = await products.findDetails(id)
    const inProduct = new Set(product.apis.map((a) => a.id))
    const seeing = new Set(product.groups.map((g) => g.id))
    return {
      title: `Product: ${product.name}`,
      product,
      quotaPeriods: QUOTA_PERIODS,
      values: formValues(productInput(product)),
      otherApis: (await apis.listApis()).filter((a) => !inProduct.has(a.id)),
      otherGroups: (await groups.listGroups()).filter((g) => !seeing.has(g.id) && g.systemKey !== 'administrators'),
      liveSubscriptions: await products.countLiveSubscriptions(id),
      ...data
    }
  }

  app.get('/', async (_request, reply) => await reply.page('publisher/products/list', { title: 'Products', products: await products.listProducts() }))

  app.get('/new', async (_request, reply) => await reply.page('publisher/products/new', { title: 'Add a product', quotaPeriods: QUOTA_PERIODS, values: formValues(NEW_PRODUCT) }))

  app.post<{ Body: ProductForm }>('/', { schema: productForm }, async (request, reply) => {
    try {
      const product = await products.createProduct(input(request.body), actorOf(request))
      request.session.flash = `The product ${product.name} was added. Now add its APIs and choose who sees it.`
      return await reply.code(303).redirect(`/admin/products/${product.id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/products/new', { title: 'Add a product', quotaPeriods: QUOTA_PERIODS, values: keptValues(request.body) })
    }
  })

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (request, reply) => {
    return await reply.page('publisher/products/show', await showPage(parseId(request.params.id)))
  })

  app.post<{ Params: { id: string }, Body: ProductForm }>('/:id', { schema: { ...idParams, ...productForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const product = await products.updateProduct(id, input(request.body), actorOf(request))
      request.session.flash = `The product ${product.name} was saved.`
      return await reply.code(303).redirect(`/admin/products/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/products/show', await showPage(id, { values: keptValues(request.body) }))
    }
  })

  for (const state of ['published', 'notPublished'] as const) {
    app.post<{ Params: { id: string } }>(state === 'published' ? '/:id/publish' : '/:id/unpublish', { schema: { ...idParams, ...formSchema({}) } }, async (request, reply) => {
      const product = await products.setState(parseId(request.params.id), state, actorOf(request))
      request.session.flash = state === 'published' ? `${product.name} is published: developers in its groups can see it.` : `${product.name} is no longer published.`
      return await reply.code(303).redirect(`/admin/products/${product.id}`)
    })
  }

  app.get<{ Params: { id: string } }>('/:id/delete', { schema: idParams }, async (request, reply) => {
    const id = parseId(request.params.id)
    const product = await products.findProduct(id)
    return await reply.page('publisher/products/delete', { title: `Delete ${product.name}?`, product, liveSubscriptions: await products.countLiveSubscriptions(id) })
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof deleteForm> }>('/:id/delete', { schema: { ...idParams, ...deleteForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const { product, cancelled } = await products.deleteProduct(id, request.body.cancelSubscriptions === 'on', actorOf(request))
      request.session.flash = `The product ${product.name} was deleted${cancelled > 0 ? `, and its ${cancelled} live subscription${cancelled === 1 ? ' was' : 's were'} cancelled` : ''}.`
      return await reply.code(303).redirect('/admin/products')
    } catch (err) {
      const product = await products.findProduct(id)
      return await showFormErrors(reply, err, 'publisher/products/delete', { title: `Delete ${product.name}?`, product, liveSubscriptions: await products.countLiveSubscriptions(id) })
    }
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof apiForm> }>('/:id/apis', { schema: { ...idParams, ...apiForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const { api } = await products.addApi(id, formId(request.body.apiId), actorOf(request))
      request.session.flash = `${api.name} was added to the product.`
      return await reply.code(303).redirect(`/admin/products/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/products/show', await showPage(id))
    }
  })

  app.post<{ Params: { id: string, apiId: string } }>('/:id/apis/:apiId/remove', { schema: { ...pairParams('apiId'), ...formSchema({}) } }, async (request, reply) => {
    const { product, api } = await products.removeApi(parseId(request.params.id), parseId(request.params.apiId), actorOf(request))
    request.session.flash = `${api.name} was removed from the product.`
    return await reply.code(303).redirect(`/admin/products/${product.id}`)
  })

  app.post<{ Params: { id: string }, Body: FormBody<typeof groupForm> }>('/:id/groups', { schema: { ...idParams, ...groupForm } }, async (request, reply) => {
    const id = parseId(request.params.id)
    try {
      const { group } = await products.addGroup(id, formId(request.body.groupId), actorOf(request))
      request.session.flash = `${group.name} can now see the product.`
      return await reply.code(303).redirect(`/admin/products/${id}`)
    } catch (err) {
      return await showFormErrors(reply, err, 'publisher/products/show', await showPage(id))
    }
  })

  app.post<{ Params: { id: string, groupId: string } }>('/:id/groups/:groupId/remove', { schema: { ...pairParams('groupId'), ...formSchema({}) } }, async (request, reply) => {
    const { product, group } = await products.removeGroup(parseId(request.params.id), parseId(request.params.groupId), actorOf(request))
    request.session.flash = `${group.name} no longer sees the product.`
    return await reply.code(303).redirect(`/admin/products/${product.id}`)
  })
}
