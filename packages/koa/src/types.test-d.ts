import type { StaleguardStats } from '@staleguard/core'
import Koa, { type Middleware } from 'koa'
import { expectTypeOf, test } from 'vitest'
import { staleguard } from './index.js'

test('ctx.fetch is the global fetch, also with a custom context type', () => {
  const app = new Koa<{ user: string }, { tenant: string }>()
  const middleware = staleguard<{ user: string }, { tenant: string }>({ upstream: ['nginx', 'aws-nat'] })
  expectTypeOf(middleware).toMatchTypeOf<Middleware<{ user: string }, { tenant: string }>>()
  app.use(middleware)
  app.use(async (ctx) => {
    expectTypeOf(ctx.fetch).toEqualTypeOf<typeof fetch>()
    expectTypeOf(ctx.tenant).toEqualTypeOf<string>()
    const response = await ctx.fetch('https://api.example.com/items')
    expectTypeOf(response).toEqualTypeOf<Response>()
    const fast = await ctx.staleguard.request('https://api.example.com/items', {
      method: 'GET',
      headers: { accept: 'application/json' },
    })
    expectTypeOf(fast.statusCode).toEqualTypeOf<number>()
    expectTypeOf(await fast.body.json()).toEqualTypeOf<unknown>()
    expectTypeOf(ctx.staleguard.requestId).toEqualTypeOf<string>()
    expectTypeOf(ctx.staleguard.fetch).toEqualTypeOf<typeof fetch>()
    // @ts-expect-error the fast path takes undici.request options, not a fetch RequestInit body stream
    await ctx.staleguard.request('https://api.example.com', { body: new ReadableStream() })
    // @ts-expect-error a number is not a URL
    await ctx.fetch(42)
    ctx.body = await response.text()
  })
  expectTypeOf(middleware.stats).returns.toEqualTypeOf<StaleguardStats | undefined>()
  // @ts-expect-error unknown preset names do not compile
  staleguard({ upstream: 'aws-elb' })
})
