import type { StaleguardStats } from '@staleguard/core'
import express from 'express'
import { expectTypeOf, test } from 'vitest'
import { staleguard } from './index.js'

test('req.fetch is the global fetch, with no casts in user code', () => {
  const app = express()
  const middleware = staleguard({ upstreamIdleTimeout: 60_000, requestIdHeader: 'x-correlation-id' })
  app.use(middleware)
  app.get('/items', async (req, res) => {
    expectTypeOf(req.fetch).toEqualTypeOf<typeof fetch>()
    const response = await req.fetch(new URL('https://api.example.com/items'))
    expectTypeOf(response).toEqualTypeOf<Response>()
    const fast = await req.staleguard.request('https://api.example.com/items', {
      method: 'GET',
      headers: { accept: 'application/json' },
    })
    expectTypeOf(fast.statusCode).toEqualTypeOf<number>()
    expectTypeOf(await fast.body.json()).toEqualTypeOf<unknown>()
    expectTypeOf(req.staleguard.requestId).toEqualTypeOf<string>()
    expectTypeOf(req.staleguard.fetch).toEqualTypeOf<typeof fetch>()
    // @ts-expect-error the fast path takes undici.request options, not a fetch RequestInit body stream
    await req.staleguard.request('https://api.example.com', { body: new ReadableStream() })
    // @ts-expect-error a number is not a URL
    await req.fetch(42)
    res.json(await response.json())
  })
  expectTypeOf(middleware.close).returns.toEqualTypeOf<Promise<void>>()
  expectTypeOf(middleware.stats).returns.toEqualTypeOf<StaleguardStats | undefined>()
  // @ts-expect-error retries are capped at 3 by the runtime, but must at least be a number
  staleguard({ retry: { maxRetries: 'many' } })
})
