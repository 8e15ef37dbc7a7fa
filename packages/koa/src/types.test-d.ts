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
    // @ts-expect-error a number is not a URL
    await ctx.fetch(42)
    ctx.body = await response.text()
  })
  expectTypeOf(middleware.stats).returns.toEqualTypeOf<StaleguardStats | undefined>()
  // @ts-expect-error unknown preset names do not compile
  staleguard({ upstream: 'aws-elb' })
})
