/**
 * Drives one client API for a fixed number of requests, to be run under `node --cpu-prof`:
 *   node --cpu-prof --cpu-prof-dir=.profiles --import tsx bench/profile.ts createFetch 40000
 * then `node bench/top-frames.mjs .profiles/<file>.cpuprofile` lists where the time went.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createFetch, createHttpAgent, createRequest } from '@staleguard/core'
import { createAppInstallation } from '@staleguard/core/adapter'
import { Agent, request } from 'undici'
import { startBenchUpstream, throughput } from './harness.js'

const [which = 'createFetch', countText = '40000'] = process.argv.slice(2)
const { origin, child } = await startBenchUpstream()
const agent = new Agent({ keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000 })
const staleguardFetch = createFetch()
const staleguardRequest = createRequest()
// A real incoming request kept open, for the scoped variants (what handlers call).
const installation = createAppInstallation({ installGlobal: false })
const server = http.createServer()
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const incoming = once(server, 'request') as Promise<[http.IncomingMessage, http.ServerResponse]>
http.get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`).on('error', () => {})
const [req, res] = await incoming
const scope = installation.openScope(res, { headers: req.headers })
const plainHttpAgent = new http.Agent({ keepAlive: true, scheduling: 'lifo' })
const staleguardHttpAgent = createHttpAgent()
const itemsUrl = new URL(origin + '/items')
const httpGet = (agent: http.Agent) => () =>
  new Promise<void>((resolve, reject) => {
    http
      .get({ host: itemsUrl.hostname, port: itemsUrl.port, path: itemsUrl.pathname, agent }, (r) => {
        r.resume()
        r.on('end', resolve)
      })
      .on('error', reject)
  })
const clients: Record<string, () => Promise<unknown>> = {
  httpAgent: httpGet(plainHttpAgent),
  createHttpAgent: httpGet(staleguardHttpAgent),
  scopedFetch: () => scope.fetch(origin + '/items').then((r) => r.arrayBuffer()),
  scopedRequest: () => scope.request(origin + '/items').then((r) => r.body.arrayBuffer()),
  createFetch: () => staleguardFetch(origin + '/items').then((r) => r.arrayBuffer()),
  fetch: () => fetch(origin + '/items', { dispatcher: agent } as unknown as RequestInit).then((r) => r.arrayBuffer()),
  createRequest: () => staleguardRequest(origin + '/items').then((r) => r.body.arrayBuffer()),
  request: () => request(origin + '/items', { dispatcher: agent }).then((r) => r.body.arrayBuffer()),
}
const send = clients[which]
if (!send) throw new Error(`unknown client ${which}; one of ${Object.keys(clients).join(', ')}`)
const rate = await throughput(send, Number(countText), 32)
console.log(`${which}: ${rate.rate.toFixed(0)} req/s, ${rate.cpuMicros.toFixed(1)} µs CPU/request`)
plainHttpAgent.destroy()
staleguardHttpAgent.destroy()
res.end()
server.closeAllConnections()
server.close()
await Promise.all([
  agent.close(),
  staleguardFetch.dispatcher.close(),
  staleguardRequest.dispatcher.close(),
  installation.close(),
])
child.disconnect()
