import { once } from 'node:events'
import http from 'node:http'
import https from 'node:https'
import type net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createDispatcher } from '../dispatch/staleguard-dispatcher.js'
import { getStaleguardDiagnostics } from '../observe/diagnostics.js'
import { createHttpAgent } from './http-agents.js'
import { installGlobalAgents } from './global-agents.js'

const closers: (() => unknown)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** A keep-alive server on loopback; `onRequest` may answer differently per connection and request. */
async function serve(
  onRequest: (req: http.IncomingMessage, res: http.ServerResponse, nth: number) => void = (_req, res) => res.end('ok'),
): Promise<{ port: number; connections: () => number }> {
  let connections = 0
  const perSocket = new WeakMap<object, number>()
  const server = http.createServer((req, res) => {
    const nth = (perSocket.get(req.socket) ?? 0) + 1
    perSocket.set(req.socket, nth)
    req.resume()
    req.on('end', () => onRequest(req, res, nth))
  })
  server.keepAliveTimeout = 10_000
  server.on('connection', () => connections++)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  closers.push(() => {
    server.closeAllConnections()
    server.close()
  })
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections }
}

function send(
  agent: http.Agent,
  port: number,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<{ status: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', method, agent, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }))
    })
    req.on('error', reject)
    req.end(method === 'GET' ? undefined : '{}')
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('createHttpAgent', () => {
  it('retires an idle socket at the origin idle limit, and honours a short Keep-Alive hint Node would not reuse at all', async () => {
    const { port, connections } = await serve((_req, res) => {
      res.setHeader('Keep-Alive', 'timeout=1')
      res.end('ok')
    })
    const agent = createHttpAgent({ keepAliveTimeout: 4000 })
    closers.push(() => agent.destroy())
    await send(agent, port)
    await sleep(150)
    // timeout=1: kept for half of it, where Node's own agent closes the socket at once.
    expect((await send(agent, port)).reused).toBe(true)
    await sleep(700)
    expect((await send(agent, port)).reused).toBe(false)
    expect(connections()).toBe(2)
    const origin = agent.stats().origins[`http://127.0.0.1:${port}`]!
    expect(origin.requests).toBe(3)
    expect(origin.reusedRequests).toBe(1)
    expect(origin.socketsOpened).toBe(2)
  })

  it('explains a stale reused socket, leaves a safe retry to the client and closes the siblings idle as long', async () => {
    // The second request on every connection meets a socket the server has forgotten: closed, no answer.
    const { port } = await serve((req, res, nth) => (nth === 1 ? res.end('ok') : req.socket.destroy()))
    const agent = createHttpAgent({ keepAliveTimeout: 4000 })
    closers.push(() => agent.destroy())
    await Promise.all([send(agent, port), send(agent, port)])
    await sleep(300)
    const failure = await send(agent, port).then(
      () => null,
      (error: unknown) => error,
    )
    const diagnostics = getStaleguardDiagnostics(failure)
    expect(diagnostics?.retryDecision).toBe('left-to-client')
    expect(diagnostics?.reused).toBe(true)
    expect(diagnostics?.explanation).toMatch(/integrations/)
    const stats = agent.stats()
    expect(stats.staleFailures).toBe(1)
    // Its sibling, idle as long, was closed: the next request opens a new connection and gets its answer.
    expect(stats.socketsEvicted).toBe(1)
    expect((await send(agent, port)).reused).toBe(false)
    const post = await send(agent, port, 'POST').catch((error: unknown) => error)
    expect(getStaleguardDiagnostics(post)?.retryDecision).toBe('not-idempotent')
  })

  it('after an idle gap sends one GET to scout the suspect sockets and the others on new connections', async () => {
    // The second request on every connection meets a socket the server has forgotten.
    const { port, connections } = await serve((req, res, nth) => (nth === 1 ? res.end('ok') : req.socket.destroy()))
    const agent = createHttpAgent({ keepAliveTimeout: 4000 })
    closers.push(() => agent.destroy())
    await Promise.all([send(agent, port), send(agent, port), send(agent, port)])
    await sleep(300)
    const outcomes = await Promise.allSettled([send(agent, port), send(agent, port), send(agent, port)])
    // Node's own agent would put all three on the three dead sockets.
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1)
    expect(connections()).toBe(5)
    const stats = agent.stats()
    expect(stats.staleFailures).toBe(1)
    // The scout's failure closed the two sockets it stood for.
    expect(stats.socketsEvicted).toBe(2)
  })

  it('puts a POST without Idempotency-Key on a new connection rather than on a socket idle longer than proven', async () => {
    const { port, connections } = await serve()
    const agent = createHttpAgent({ keepAliveTimeout: 4000 })
    closers.push(() => agent.destroy())
    await send(agent, port)
    await sleep(20)
    expect((await send(agent, port)).reused).toBe(true)
    await sleep(400)
    expect((await send(agent, port, 'POST')).reused).toBe(false)
    // With a key it may take the pool's socket.
    await sleep(400)
    expect((await send(agent, port, 'POST', { 'idempotency-key': 'k1' })).reused).toBe(true)
    expect(connections()).toBe(2)
    const stats = agent.stats()
    expect(stats.unreplayableOnNewConnection).toBe(1)
    expect(stats.socketsEvicted).toBe(1)
  })

  it('counts requests that waited in the queue for a socket (maxSockets) like the others', async () => {
    const { port, connections } = await serve()
    const agent = createHttpAgent({ agentOptions: { maxSockets: 1 } })
    closers.push(() => agent.destroy())
    const results = await Promise.all([send(agent, port), send(agent, port), send(agent, port)])
    expect(results.map((r) => r.status)).toEqual([200, 200, 200])
    expect(connections()).toBe(1)
    const stats = agent.stats()
    expect(stats.requests).toBe(3)
    expect(stats.reusedRequests).toBe(2)
    expect(stats.origins[`http://127.0.0.1:${port}`]?.activeSockets).toBe(0)
  })

  it("hands a FIN's `socket hang up` to a caller listening with `once` (got does), without throwing it again", async () => {
    const { port } = await serve((req, res, nth) => (nth === 1 ? res.end('ok') : req.socket.end()))
    const agent = createHttpAgent()
    closers.push(() => agent.destroy())
    await send(agent, port)
    const error = await new Promise<Error>((resolve) => {
      http.get({ host: '127.0.0.1', port, agent }, (res) => res.resume()).once('error', resolve)
    })
    expect(error.message).toBe('socket hang up')
    expect(getStaleguardDiagnostics(error)?.retryDecision).toBe('left-to-client')
    // An uncaught exception would fail the run before this line.
    await sleep(20)
  })

  it("keeps the app's agent `timeout` on reused sockets, as node:http does", async () => {
    const { port } = await serve()
    const agent = createHttpAgent({ agentOptions: { timeout: 1234 } })
    closers.push(() => agent.destroy())
    await send(agent, port)
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, agent }, (res) => {
        res.resume()
        resolve(req.socket as net.Socket)
      })
      req.on('error', reject)
    })
    expect(socket.timeout).toBe(1234)
  })

  it('counts a request destroyed before it was written as over (nothing stays in flight)', async () => {
    const { port } = await serve()
    const agent = createHttpAgent()
    closers.push(() => agent.destroy())
    await send(agent, port)
    const req = http.get({ host: '127.0.0.1', port, agent })
    req.on('error', () => {})
    req.destroy()
    await sleep(50)
    await send(agent, port)
    expect(agent.stats().origins[`http://127.0.0.1:${port}`]?.activeSockets).toBe(0)
    expect(agent.stats().requests).toBe(3)
  })

  it('throws a request error nobody listens for, as node:http does', async () => {
    const { port } = await serve()
    const agent = createHttpAgent()
    closers.push(() => agent.destroy())
    const req = http.request({ host: '127.0.0.1', port, agent })
    expect(() => req.emit('error', new Error('boom'))).toThrow('boom')
    req.on('error', () => {})
    req.destroy()
  })

  it('shares the per-origin state of a staleguard dispatcher, and takes no option beside it', async () => {
    const { port } = await serve()
    const dispatcher = createDispatcher()
    closers.push(() => dispatcher.close())
    const agent = createHttpAgent({ dispatcher })
    closers.push(() => agent.destroy())
    await send(agent, port)
    await fetch(`http://127.0.0.1:${port}/`, { dispatcher } as unknown as RequestInit).then((r) => r.text())
    expect(dispatcher.stats().origins[`http://127.0.0.1:${port}`]?.requests).toBe(2)
    expect(() => createHttpAgent({ dispatcher, keepAliveTimeout: 1000 })).toThrow(/keepAliveTimeout/)
    expect(() => createHttpAgent({ keepAliveTimeot: 1000 } as never)).toThrow(/keepAliveTimeout/)
  })
})

describe('installGlobalAgents', () => {
  it('keeps the settings of the global agents in place, refuses one it cannot read, and restores them', async () => {
    const { port } = await serve()
    const previous = http.globalAgent
    const previousHttps = https.globalAgent
    const own = new http.Agent({ keepAlive: true, maxSockets: 3, timeout: 2000 })
    http.globalAgent = own
    closers.push(() => {
      http.globalAgent = previous
      own.destroy()
    })
    const installation = installGlobalAgents({ keepAliveTimeout: 1000 })
    expect(http.globalAgent).toBe(installation.httpAgent)
    expect(https.globalAgent).toBe(installation.httpsAgent)
    expect(installation.httpAgent.maxSockets).toBe(3)
    await new Promise<void>((resolve, reject) =>
      http.get(`http://127.0.0.1:${port}/`, (res) => res.resume().on('end', resolve)).on('error', reject),
    )
    expect(installation.httpAgent.stats().requests).toBe(1)
    installation.restore()
    expect(http.globalAgent).toBe(own)
    expect(https.globalAgent).toBe(previousHttps)

    // Out of order: the first installation restored while a second stands on it.
    own.maxSockets = 7
    const first = installGlobalAgents()
    expect(first.httpAgent.maxSockets).toBe(7)
    const second = installGlobalAgents()
    first.restore()
    expect(http.globalAgent).toBe(second.httpAgent)
    second.restore()
    expect(http.globalAgent).toBe(own)

    class KeepAliveAgent extends http.Agent {}
    const custom = new KeepAliveAgent({ keepAlive: true })
    http.globalAgent = custom
    expect(() => installGlobalAgents()).toThrow(/KeepAliveAgent.*inherit: false/)
    const replaced = installGlobalAgents({ inherit: false })
    expect(http.globalAgent).toBe(replaced.httpAgent)
    replaced.restore()
    expect(http.globalAgent).toBe(custom)
    custom.destroy()
  })
})
