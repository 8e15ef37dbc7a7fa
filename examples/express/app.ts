import { type StaleguardMiddleware, staleguard } from '@staleguard/express'
import express, { type Express } from 'express'
import { pinoHttp } from 'pino-http'

/** An Express app whose route calls an upstream API through req.fetch. */
export function buildApp(upstreamOrigin: string): { app: Express; staleguard: StaleguardMiddleware } {
  const app = express()
  const middleware = staleguard({ upstreamIdleTimeout: 5_000, behind: 'aws-alb' })
  app.use(pinoHttp()) // req.log: staleguard logs retries and unrecoverable failures through it
  app.use(middleware)
  app.use(express.json())

  app.get('/items/:id', async (req, res) => {
    const response = await req.fetch(`${upstreamOrigin}/items/${req.params.id}`)
    res.json({ item: await response.json() })
  })

  app.post('/orders', async (req, res) => {
    const response = await req.fetch(`${upstreamOrigin}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': String(req.id) },
      body: JSON.stringify(req.body ?? {}),
    })
    res.status(response.status).json(await response.json())
  })

  app.get('/staleguard/stats', (_req, res) => {
    res.json(middleware.stats())
  })
  return { app, staleguard: middleware }
}
