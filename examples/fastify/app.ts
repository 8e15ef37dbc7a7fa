import fastifyStaleguard from '@staleguard/fastify'
import Fastify, { type FastifyInstance } from 'fastify'

/** A Fastify app whose route calls an upstream API through request.fetch. */
export async function buildApp(upstreamOrigin: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: 'info' }, requestIdHeader: 'x-request-id' })
  // The path to the API crosses nginx (keepalive_timeout 5s): sockets retire at 4 s, before nginx closes them.
  await app.register(fastifyStaleguard, { upstreamIdleTimeout: 5_000, behind: 'aws-alb' })

  app.get('/items/:id', async (request) => {
    const { id } = request.params as { id: string }
    const response = await request.fetch(`${upstreamOrigin}/items/${id}`)
    return { item: await response.json() }
  })

  app.post('/orders', async (request, reply) => {
    // A POST is re-sent after a stale socket only with an Idempotency-Key; without one it is never sent twice.
    const response = await request.fetch(`${upstreamOrigin}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': String(request.id) },
      body: JSON.stringify(request.body ?? {}),
    })
    return reply.code(response.status).send(await response.json())
  })

  app.get('/staleguard/stats', async () => app.staleguard.stats())
  return app
}
