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
    const response = await request.fetch('https://api.example.com/orders', {
      method: 'POST',
      body: 'x',
      headers: { 'idempotency-key': '1' },
    })
    expectTypeOf(response).toEqualTypeOf<Response>()
    const fast = await request.staleguard.request('https://api.example.com/items', {
      method: 'GET',
      headers: { accept: 'application/json' },
    })
    expectTypeOf(fast.statusCode).toEqualTypeOf<number>()
    expectTypeOf(await fast.body.json()).toEqualTypeOf<unknown>()
    expectTypeOf(request.staleguard.requestId).toEqualTypeOf<string>()
    expectTypeOf(request.staleguard.fetch).toEqualTypeOf<typeof fetch>()
    // @ts-expect-error the fast path takes undici.request options, not a fetch RequestInit body stream
    await request.staleguard.request('https://api.example.com', { body: new ReadableStream() })
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
