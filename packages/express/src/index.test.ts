import { describe, expect, it } from 'vitest'
import { defineAdapterContract } from '../../../test/adapter-contract.js'

defineAdapterContract('express')

describe('@staleguard/express in a mounted sub-app', () => {
  it('gives req.fetch to handlers of a sub-app mounted below the middleware', async () => {
    const { startUpstream } = await import('@staleguard/lab')
    const { default: express } = await import('express')
    const { staleguard } = await import('./index.js')
    const upstream = await startUpstream()
    const app = express()
    const middleware = staleguard({ installGlobal: false })
    app.use(middleware)
    const sub = express()
    sub.get('/items', async (req, res) => {
      res.send(await (await req.fetch(`${upstream.origin}/from-sub-app`)).text())
    })
    app.use('/sub', sub)
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const { port } = server.address() as import('node:net').AddressInfo
      const response = await fetch(`http://127.0.0.1:${port}/sub/items`, { headers: { 'x-request-id': 'sub-1' } })
      expect(response.status).toBe(200)
      expect(upstream.received.find((r) => r.path === '/from-sub-app')?.headers['x-request-id']).toBe('sub-1')
    } finally {
      server.close()
      await middleware.close()
      await upstream.close()
    }
  })
})
