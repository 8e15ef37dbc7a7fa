import { type StaleguardMiddleware, staleguard } from '@staleguard/koa'
import Koa from 'koa'

/** A Koa app whose route calls an upstream API through ctx.fetch. */
export function buildApp(upstreamOrigin: string): { app: Koa; staleguard: StaleguardMiddleware } {
  const app = new Koa()
  const middleware = staleguard({ upstreamIdleTimeout: 5_000, behind: 'aws-alb' })
  app.use(middleware)
  app.use(async (ctx) => {
    const item = /^\/items\/(\w+)$/.exec(ctx.path)
    if (item) {
      const response = await ctx.fetch(`${upstreamOrigin}/items/${item[1]}`)
      ctx.body = { item: await response.json() }
    } else if (ctx.path === '/staleguard/stats') {
      ctx.body = middleware.stats()
    } else {
      ctx.status = 404
    }
  })
  return { app, staleguard: middleware }
}
