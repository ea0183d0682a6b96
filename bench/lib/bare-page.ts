import fastify, { type FastifyInstance } from 'fastify'
import view from '@fastify/view'
import { Eta } from 'eta'

// The ceiling of this stack for a list page: fastify + @fastify/view + eta rendering a 25-row table
// from memory, with no session, no database and no layout.
const TEMPLATE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Developers</title></head><body><main>
<h1>Developers</h1><table><thead><tr><th>Name</th><th>Email</th><th>State</th><th>Registered</th></tr></thead><tbody>
<% for (const row of it.rows) { %><tr><td><a href="/admin/developers/<%= row.id %>"><%= row.name %></a></td><td><%= row.email %></td><td><%= row.state %></td><td><%= row.createdAt %></td></tr><% } %>
</tbody></table></main></body></html>`

/** The bare page, listening on a free loopback port; returns the server and its URL. */
export async function startBarePage (): Promise<{ server: FastifyInstance, url: string }> {
  const eta = new Eta({ autoEscape: true, cache: true })
  // @fastify/view asks eta for the name with its extension.
  eta.loadTemplate('@list.eta', TEMPLATE)
  const rows = Array.from({ length: 25 }, (_, i) => ({ id: i + 1, name: `User${String(i).padStart(6, '0')} Bench`, email: `user${i}@example.org`, state: 'active', createdAt: '2025-01-01 00:00' }))
  const server = fastify()
  await server.register(view, { engine: { eta }, production: true })
  server.get('/', async (_request, reply) => await reply.viewAsync('@list', { rows }))
  await server.listen({ port: 0, host: '127.0.0.1' })
  const { port } = server.server.address() as { port: number }
  return { server, url: `http://127.0.0.1:${port}/` }
}
