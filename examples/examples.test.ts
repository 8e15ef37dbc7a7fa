import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ExampleUpstream, startUpstreamBehindNginx } from '@staleguard/example-shared'
import { requireTool } from '@staleguard/lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp as buildExpress } from './express/app.js'
import { buildApp as buildFastify } from './fastify/app.js'
import { buildApp as buildKoa } from './koa/app.js'

async function listen(server: Server): Promise<string> {
  if (!server.listening) await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('examples, behind nginx', () => {
  let upstream: ExampleUpstream
  beforeAll(async () => {
    requireTool('nginx')
    upstream = await startUpstreamBehindNginx()
  })
  afterAll(() => upstream.close())

  it.each([
    [
      'fastify',
      async () => {
        const app = await buildFastify(upstream.origin)
        const origin = await app.listen({ port: 0, host: '127.0.0.1' })
        return { origin, close: () => app.close() }
      },
    ],
    [
      'express',
      async () => {
        const { app, staleguard } = buildExpress(upstream.origin)
        const server = app.listen(0, '127.0.0.1')
        const origin = await listen(server)
        return {
          origin,
          close: async () => {
            server.closeAllConnections()
            server.close()
            await staleguard.close()
          },
        }
      },
    ],
    [
      'koa',
      async () => {
        const { app, staleguard } = buildKoa(upstream.origin)
        const server = app.listen(0, '127.0.0.1')
        const origin = await listen(server)
        return {
          origin,
          close: async () => {
            server.closeAllConnections()
            server.close()
            await staleguard.close()
          },
        }
      },
    ],
  ] as const)('%s: the route reaches the upstream through the scoped fetch', async (_name, start) => {
    const app = await start()
    try {
      const response = await fetch(`${app.origin}/items/7`, { headers: { 'x-request-id': 'example-7' } })
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ item: { path: '/items/7', requestId: 'example-7' } })
      const stats = (await fetch(`${app.origin}/staleguard/stats`).then((r) => r.json())) as {
        origins: Record<string, { requests: number; idleLimitMs: number }>
      }
      // The example installs staleguard globally, so this test's own calls to the app are counted too: per origin.
      expect(stats.origins[upstream.origin]).toMatchObject({ requests: 1, idleLimitMs: 4_000 })
    } finally {
      await app.close()
    }
  })
})
