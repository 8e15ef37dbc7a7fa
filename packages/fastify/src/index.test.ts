import type { AddressInfo } from 'node:net'
import { StaleguardOptionError } from '@staleguard/core'
import { useUpstream } from '@staleguard/lab/vitest'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { defineAdapterContract } from '../../../test/adapter-contract.js'
import { fastifyStaleguard } from './index.js'

defineAdapterContract('fastify')

describe('@staleguard/fastify on a default Fastify app', () => {
  const upstream = useUpstream()

  it("forwards the incoming x-request-id, and Fastify's own id only when there is none", async () => {
    // Fastify 5 ignores incoming request-id headers unless told otherwise: its ids are req-1, req-2, …
    const app = Fastify()
    await app.register(fastifyStaleguard, { installGlobal: false })
    app.get('/call', async (request) => (await request.fetch(`${upstream.origin}/fastify-id`)).text())
    await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
      await fetch(`${origin}/call`, { headers: { 'x-request-id': 'incoming-7' } }).then((r) => r.text())
      await fetch(`${origin}/call`).then((r) => r.text())
      const sent = upstream.received.filter((r) => r.path === '/fastify-id').map((r) => r.headers['x-request-id'])
      expect(sent[0]).toBe('incoming-7')
      expect(sent[1]).toMatch(/^req-/)
    } finally {
      await app.close()
    }
  })

  it('hands bad options back through registration, where `await app.register()` catches them', async () => {
    const app = Fastify()
    await expect(app.register(fastifyStaleguard, { retry: { maxRetries: 9 } })).rejects.toThrow(StaleguardOptionError)
    await app.close()
  })
})
