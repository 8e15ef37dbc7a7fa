import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAppInstallation } from '@staleguard/core/adapter'
import { type Contender, compare, pinToCpu, startBenchUpstream } from './harness.js'

/**
 * Inside one incoming request, the fast path (`ctx.staleguard.request`) against the scoped fetch
 * (`ctx.fetch`): the same scope, dispatcher and upstream, called back to back.
 */
export async function benchFastPath(options: {
  rounds: number
  perRound: number
  inFlight: number
}): Promise<{ ratio: number; cpuRatio: number }> {
  const { origin, child } = await startBenchUpstream()
  pinToCpu(process.pid, 0)
  const installation = createAppInstallation({ installGlobal: false })
  // A real incoming request whose response stays open while the calls run, as in a handler.
  const server = http.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const incoming = once(server, 'request') as Promise<[http.IncomingMessage, http.ServerResponse]>
  const client = http.get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
  client.on('error', () => {})
  const [req, res] = await incoming
  const scope = installation.openScope(res, { headers: req.headers, requestId: 'bench' })
  const url = `${origin}/items`
  const contenders: [Contender, Contender] = [
    { name: 'ctx.fetch', send: () => scope.fetch(url).then((r) => r.arrayBuffer()) },
    { name: 'ctx.staleguard.request (fast path)', send: () => scope.request(url).then((r) => r.body.arrayBuffer()) },
  ]
  const result = await compare('fast path vs scoped fetch, in one request scope', contenders, options)
  res.end()
  client.destroy()
  server.close()
  await installation.close()
  child.disconnect()
  return result
}
