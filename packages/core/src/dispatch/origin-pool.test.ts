import { type Upstream, freePort, startUpstream, until } from '@staleguard/lab'
import type { Dispatcher } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveOriginOptions } from '../config/resolve-options.js'
import { UndiciDispatcher, buildConnector } from '../http/undici.js'
import { type OriginPool, busyFlagOf, createOriginPool } from './origin-pool.js'
import { OriginState } from './origin-state.js'

/**
 * The two places where the origin's pool and staleguard's list of its Clients could drift apart, against real
 * sockets: a Client the pool lets go of after a failed connection, and a Client handed a request behind the
 * pool's back (socket choice), which the pool must see as busy.
 */

const upstreams: Upstream[] = []
const pools: OriginPool[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.pool.destroy()))
  await Promise.all(upstreams.splice(0).map((upstream) => upstream.close()))
})

async function upstreamOn(port?: number): Promise<Upstream> {
  const upstream = await startUpstream({ port })
  upstreams.push(upstream)
  return upstream
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

/** Whether the pool counts a Client busy, by the flag `dispatchOn` sets. */
function poolCountsBusy(pool: OriginPool, client: Dispatcher): boolean {
  return (client as unknown as Record<symbol, boolean>)[busyFlagOf(pool.pool)!] === true
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
    dispatcher.request({ origin, path, method: 'GET' }).then(async (response) => {
      await response.body.dump()
      return response.statusCode
    })
}

describe('the origin pool and its list of Clients', () => {
  it('lets go of a Client whose connection failed, as undici does, and lists the one that replaces it', async () => {
    const port = await freePort()
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
    const upstream = await upstreamOn(port)
    expect(await viaPool(origin, '/up')).toBe(200)
    expect(pool.clients).toEqual(clientsOfUndici(pool))
    expect(pool.clients.filter((client) => client.socket !== null)).toHaveLength(1)
    expect(upstream.connections).toBe(1)
  })

  it('flags a Client given a request directly as busy, so the pool sends its next request elsewhere', async () => {
    const upstream = await upstreamOn()
    const pool = originPoolFor(upstream.origin)
    const viaPool = requestVia((options, handler) => pool.pool.dispatch(options, handler))
    expect(await viaPool(upstream.origin, '/first')).toBe(200)
    const chosen = pool.clients.find((client) => client.socket !== null)!
    expect(pool.clients.indexOf(chosen)).toBe(0)
    // Until its drain reaches the pool, the pool still counts it busy from its own dispatch: wait for that, or
    // the pool would pass it over whatever the flag does.
    expect(await until(() => !poolCountsBusy(pool, chosen), 2_000)).toBe(true)
    const viaChosen = requestVia((options, handler) => pool.dispatchOn(chosen, options, handler))
    const held = viaChosen(upstream.origin, '/slow?ms=1000')
    // Unflagged, the pool would queue this one behind the slow request on the same socket: it would end after it.
    const next = viaPool(upstream.origin, '/next')
    const first = await Promise.race([next.then(() => 'next'), held.then(() => 'the slow request')])
    expect(first).toBe('next')
    expect(await next).toBe(200)
    expect(upstream.connections).toBe(2)
    expect(pool.clients).toEqual(clientsOfUndici(pool))
    expect(await held).toBe(200)
  })
})
