import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Dispatcher } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveOriginOptions } from '../config/resolve-options.js'
import { UndiciDispatcher, buildConnector } from '../http/undici.js'
import { type OriginPool, createOriginPool } from './origin-pool.js'
import { OriginState } from './origin-state.js'

/**
 * The two places where the origin's pool and staleguard's list of its Clients could drift apart, against real
 * sockets: a Client the pool lets go of after a failed connection, and a Client handed a request behind the
 * pool's back (socket choice), which the pool must see as busy.
 */

const servers: http.Server[] = []
const pools: OriginPool[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.pool.destroy()))
  for (const server of servers.splice(0)) server.closeAllConnections()
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
})

/** An upstream that counts its connections and holds `/hold` responses until `release()`. */
async function upstream(port = 0): Promise<{ origin: string; connections: () => number; release: () => void }> {
  let connections = 0
  const held: http.ServerResponse[] = []
  let released = false
  const server = http.createServer((req, res) => {
    if (req.url === '/hold' && !released) held.push(res)
    else res.end('ok')
  })
  server.on('connection', () => connections++)
  servers.push(server)
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    release: () => {
      released = true
      for (const res of held.splice(0)) res.end('ok')
    },
  }
}

async function closedPort(): Promise<number> {
  const server = http.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

function originPoolFor(origin: string, failed: Dispatcher[] = []): OriginPool {
  const state = new OriginState(origin, resolveOriginOptions({}, origin), {
    connect: buildConnector({}),
    proxy: null,
    forward: null,
  })
  const pool = createOriginPool(state, (event, _origin, targets) => {
    if (event === 'connectionError') failed.push(...targets)
  })
  pools.push(pool)
  return pool
}

/**
 * undici's own list of the pool's Clients (pool-base `kClients`), read for comparison only. It holds a spare
 * Client beside the busy ones: after handing a request to a Client that turns busy, the pool asks for a free
 * one again, and creates it, unconnected.
 */
function clientsOfUndici(pool: OriginPool): readonly Dispatcher[] {
  const kClients = Object.getOwnPropertySymbols(pool.pool).find((symbol) => symbol.description === 'clients')
  return (pool.pool as unknown as Record<symbol, Dispatcher[]>)[kClients!]!
}

/** The pool's own per-Client busy flag (pool-base `kNeedDrain`), the one `dispatchOn` sets. */
function poolCountsBusy(pool: OriginPool, client: Dispatcher): boolean {
  const kNeedDrain = Object.getOwnPropertySymbols(pool.pool).find((symbol) => symbol.description === 'needDrain')
  return (client as unknown as Record<symbol, boolean>)[kNeedDrain!] === true
}

/** undici's `request` through a dispatch function (to hand a request to one Client, as socket choice does). */
function requestVia(dispatch: (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => void) {
  const dispatcher = new (class extends UndiciDispatcher {
    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      dispatch(options, handler)
      return true
    }
  })()
  return (origin: string, path: string) =>
    dispatcher.request({ origin, path, method: 'GET' }).then((response) => response.body.text())
}

describe('the origin pool and its list of Clients', () => {
  it('lets go of a Client whose connection failed, as undici does, and lists the one that replaces it', async () => {
    const port = await closedPort()
    const origin = `http://127.0.0.1:${port}`
    const failed: Dispatcher[] = []
    const pool = originPoolFor(origin, failed)
    const viaPool = requestVia((options, handler) => pool.pool.dispatch(options, handler))

    await expect(viaPool(origin, '/refused')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    const failedClient = failed.find((target) => target !== pool.pool)
    expect(failedClient).toBeDefined()
    expect(pool.clients).not.toContain(failedClient)
    expect(pool.clients).toEqual(clientsOfUndici(pool))

    // The origin comes up on that port: the Clients listed are the pool's, one of them holding the new socket.
    const server = await upstream(port)
    expect(await viaPool(origin, '/up')).toBe('ok')
    expect(pool.clients).toEqual(clientsOfUndici(pool))
    expect(pool.clients.filter((client) => client.socket !== null)).toHaveLength(1)
    expect(server.connections()).toBe(1)
  })

  it('flags a Client given a request directly as busy, so the pool sends its next request elsewhere', async () => {
    const server = await upstream()
    const pool = originPoolFor(server.origin)
    const viaPool = requestVia((options, handler) => pool.pool.dispatch(options, handler))
    expect(await viaPool(server.origin, '/first')).toBe('ok')
    const chosen = pool.clients.find((client) => client.socket !== null)!
    expect(pool.clients.indexOf(chosen)).toBe(0)
    // Until its drain reaches the pool, the pool still counts it busy from its own dispatch: wait for that, or
    // the pool would pass it over whatever the flag does.
    for (let waited = 0; poolCountsBusy(pool, chosen) && waited < 2_000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10))
    expect(poolCountsBusy(pool, chosen)).toBe(false)
    const viaChosen = requestVia((options, handler) => pool.dispatchOn(chosen, options, handler))
    const held = viaChosen(server.origin, '/hold')
    // Unflagged, the pool would queue this one behind the held request on the same socket, and it would wait.
    const next = viaPool(server.origin, '/next')
    const outcome = await Promise.race([
      next,
      new Promise((resolve) => setTimeout(resolve, 5_000, 'queued behind the held request')),
    ])
    expect(outcome).toBe('ok')
    expect(server.connections()).toBe(2)
    expect(pool.clients).toEqual(clientsOfUndici(pool))
    server.release()
    expect(await held).toBe('ok')
  })
})
