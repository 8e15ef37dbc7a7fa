import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { closeOnSignal, startUpstreamBehindNginx } from '@staleguard/example-shared'
import { buildApp } from './app.js'

const upstream = await startUpstreamBehindNginx()
const { app, staleguard } = buildApp(upstream.origin)
const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1')
await once(server, 'listening')
const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
console.log(`
Express example on ${address}, calling ${upstream.viaNginx ? 'nginx' : 'the upstream'} at ${upstream.origin}
  curl ${address}/items/42                 the route calls upstream with req.fetch
  curl -X POST ${address}/orders -d '{}' -H 'content-type: application/json'
  curl ${address}/staleguard/stats         requests, reused sockets, stale failures, retries…
Ctrl-C to stop.`)
closeOnSignal(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  // Express has no close hook: the middleware's close() restores the global dispatcher and closes its own.
  await staleguard.close()
  await upstream.close()
})
