import type { StaleguardStats } from '@staleguard/core'
import Fastify from 'fastify'
import { expectTypeOf, test } from 'vitest'
import fastifyStaleguard, { fastifyStaleguard as named } from './index.js'

test('request.fetch is the global fetch, with no casts in user code', async () => {
  const app = Fastify()
  expectTypeOf(named).toEqualTypeOf(fastifyStaleguard)
  await app.register(fastifyStaleguard, { upstream: 'aws-alb', timeout: 5_000, behind: 'aws-alb' })
  app.post('/orders', async (request) => {
    expectTypeOf(request.fetch).toEqualTypeOf<typeof fetch>()
    const response = await request.fetch('https://api.example.com/orders', { method: 'POST', body: 'x', headers: { 'idempotency-key': '1' } })
    expectTypeOf(response).toEqualTypeOf<Response>()
    // @ts-expect-error a number is not a URL
    await request.fetch(42)
    // @ts-expect-error request.fetch is read-only
    request.fetch = fetch
    return response.json()
  })
  expectTypeOf(app.staleguard.stats).returns.toEqualTypeOf<StaleguardStats | undefined>()
  // @ts-expect-error a misspelt option does not compile
  await app.register(fastifyStaleguard, { keepaliveTimeout: 1_000 })
})
