import type { FastifyInstance } from 'fastify'
import developerListRoutes from './list'
import developerImportRoutes from './import'
import developerDetailsRoutes from './details'

/** /admin/developers, by feature: the list (with its export and bulk actions), the CSV import, one developer. */
export default async function developerRoutes (app: FastifyInstance): Promise<void> {
  await app.register(developerListRoutes)
  await app.register(developerImportRoutes)
  await app.register(developerDetailsRoutes)
}
