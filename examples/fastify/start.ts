import { closeOnSignal, startUpstreamBehindNginx } from '@staleguard/example-shared'
import { buildApp } from './app.js'

const upstream = await startUpstreamBehindNginx()
const app = await buildApp(upstream.origin)
const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
console.log(`
Fastify example on ${address}, calling ${upstream.viaNginx ? 'nginx' : 'the upstream'} at ${upstream.origin}
  curl ${address}/items/42                 the route calls upstream with request.fetch
  curl -X POST ${address}/orders -d '{}' -H 'content-type: application/json'
  curl ${address}/staleguard/stats         requests, reused sockets, stale failures, retries…
Ctrl-C to stop.`)
closeOnSignal(async () => {
  await app.close()
  await upstream.close()
})
