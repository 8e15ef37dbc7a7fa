import { createDispatcher } from '@staleguard/core'
import { type Upstream, sleep, startUpstream } from '@staleguard/lab'
import { type Dispatcher, request } from 'undici'
import { describe, expect, it } from 'vitest'

const get = (dispatcher: Dispatcher, url: string) =>
  request(url, { dispatcher }).then(
    (r) => r.body.text().then(() => r.statusCode),
    (error: unknown) => error,
  )

/** `workers` callers, each sending its share of `total` GETs back to back. */
async function backToBack(dispatcher: Dispatcher, origin: string, total: number, workers: number) {
  const results: unknown[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < total) results.push(await get(dispatcher, `${origin}/n/${next++}`))
    }),
  )
  return results
}

describe('request limits, learned and announced', () => {
  it.for([2, 3, 5])(
    'loses no GET to a server that silently closes each connection after %i responses, and learns the limit',
    async (limit) => {
      const upstream = await startUpstream({ silentCloseAfterResponses: limit })
      const dispatcher = createDispatcher({ connections: 1 })
      try {
        const results = await backToBack(dispatcher, upstream.origin, 150, 4)
        const stats = dispatcher.stats()
        expect(results.filter((r) => r !== 200)).toEqual([])
        expect(stats.origins[upstream.origin]?.learnedRequestLimit).toBe(limit)
        // Two deaths teach the limit; after that, connections are retired before they die.
        expect(stats.staleFailures).toBeLessThanOrEqual(2)
        expect(stats.retriesDeniedByBudget).toBe(0)
      } finally {
        await dispatcher.close()
        await upstream.close()
      }
    },
  )

  it('honours Keep-Alive: max=N from the first connection on: no stale failure at all', async () => {
    const upstream = await startUpstream({ silentCloseAfterResponses: 3, announceRequestLimit: true })
    const dispatcher = createDispatcher({ connections: 1 })
    try {
      const results = await backToBack(dispatcher, upstream.origin, 60, 4)
      expect(results.filter((r) => r !== 200)).toEqual([])
      expect(dispatcher.stats()).toMatchObject({ staleFailures: 0, retries: 0 })
      expect(upstream.connections).toBe(20)
    } finally {
      await dispatcher.close()
      await upstream.close()
    }
  })

  it('retires a connection after maxRequestsPerConnection requests', async () => {
    const upstream = await startUpstream()
    const dispatcher = createDispatcher({ connections: 1, maxRequestsPerConnection: 4 })
    try {
      const results = await backToBack(dispatcher, upstream.origin, 40, 2)
      expect(results.filter((r) => r !== 200)).toEqual([])
      const perConnection = countBy(upstream.received, (r) => r.connection)
      expect(Math.max(...perConnection.values())).toBeLessThanOrEqual(4)
      expect(upstream.connections).toBe(10)
    } finally {
      await dispatcher.close()
      await upstream.close()
    }
  })
})

describe('connection lifetime', () => {
  it('serves no request on a connection older than maxConnectionAge, and loses none while they turn over', async () => {
    const upstream = await startUpstream()
    const dispatcher = createDispatcher({ maxConnectionAge: 1_000 })
    try {
      const deadline = performance.now() + 3_500
      const results: unknown[] = []
      // Steady traffic: two callers, a request every ~20 ms each, for 3.5 s.
      await Promise.all(
        [0, 1].map(async (caller) => {
          for (let i = 0; performance.now() < deadline && i < 400; i++) {
            results.push(await get(dispatcher, `${upstream.origin}/steady/${caller}/${i}`))
            await sleep(20)
          }
        }),
      )
      expect(results.filter((r) => r !== 200)).toEqual([])
      const spans = [...groupBy(upstream.received, (r) => r.connection).values()].map(
        (requests) => requests.at(-1)!.receivedAt - requests[0]!.receivedAt,
      )
      expect(spans.length).toBeGreaterThanOrEqual(4)
      // A request written just before a connection's age is up arrives within a few ms of it.
      expect(Math.max(...spans)).toBeLessThan(1_000 + 50)
    } finally {
      await dispatcher.close()
      await upstream.close()
    }
  })

  it('follows an upstream that moves to another address within the age (DNS failover)', async () => {
    const [first, second] = await upstreamsOnOnePort()
    let address = '127.0.0.1'
    const lookup = (_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) =>
      options.all ? callback(null, [{ address, family: 4 }]) : callback(null, address, 4)
    const origin = `http://upstream.test:${first.port}`
    const dispatcher = createDispatcher({ maxConnectionAge: 1_000, connect: { lookup } as never })
    try {
      const results: unknown[] = []
      const send = async (until: number) => {
        while (performance.now() < until) {
          results.push(await get(dispatcher, `${origin}/move`))
          await sleep(20)
        }
      }
      await send(performance.now() + 500)
      expect(first.count('GET', '/move')).toBeGreaterThan(0)
      address = '127.0.0.2'
      const moved = performance.now()
      await send(moved + 2_000)
      expect(results.filter((r) => r !== 200)).toEqual([])
      // Everything sent after the age (plus a margin for the request in flight) reached the new address.
      const late = first.received.filter((r) => r.path === '/move' && r.receivedAt > moved + 1_100)
      expect(late).toEqual([])
      expect(second.count('GET', '/move')).toBeGreaterThan(10)
    } finally {
      await dispatcher.close()
      await Promise.all([first.close(), second.close()])
    }
  })
})

/**
 * Two upstreams on the same port, on 127.0.0.1 and 127.0.0.2. A port free on the first address can be taken on
 * the second (squid's outgoing connections in the proxy tests leave from 127.0.0.2): then another port.
 */
async function upstreamsOnOnePort(): Promise<[Upstream, Upstream]> {
  for (let attempt = 1; ; attempt++) {
    const first = await startUpstream()
    try {
      return [first, await startUpstream({ host: '127.0.0.2', port: first.port })]
    } catch (error) {
      await first.close()
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || attempt === 10) throw error
    }
  }
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>()
  for (const item of items) {
    const k = key(item)
    const group = groups.get(k)
    if (group) group.push(item)
    else groups.set(k, [item])
  }
  return groups
}

function countBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, number> {
  return new Map([...groupBy(items, key)].map(([k, group]) => [k, group.length]))
}
