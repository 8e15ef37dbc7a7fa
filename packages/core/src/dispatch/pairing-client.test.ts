import { useUpstream } from '@staleguard/lab/vitest'
import { fetch as undiciFetch, request } from 'undici'
import { describe, expect, it } from 'vitest'
import { createDispatcher } from './staleguard-dispatcher.js'

/**
 * The canary for the undici behaviour staleguard leans on: a Client calls `onConnect` right before it writes
 * the request on the socket it holds (see pairing-client.ts), so each dispatch is paired with the socket that
 * carried it. Reuse as staleguard counts it must equal reuse as the upstream sees it, connection by
 * connection, for the built-in fetch, the npm undici fetch and undici.request.
 */
describe('socket pairing', () => {
  const upstream = useUpstream()

  it('pairs every request with its socket, for every client API', async () => {
    const dispatcher = createDispatcher()
    const clients = [
      (path: string) => fetch(upstream.origin + path, { dispatcher } as unknown as RequestInit).then((r) => r.text()),
      (path: string) => undiciFetch(upstream.origin + path, { dispatcher }).then((r) => r.text()),
      (path: string) => request(upstream.origin + path, { dispatcher }).then((r) => r.body.text()),
      (path: string) =>
        fetch(upstream.origin + path, { dispatcher, method: 'PUT', body: 'x' } as unknown as RequestInit).then((r) =>
          r.text(),
        ),
    ]
    const before = upstream.received.length
    for (let round = 0; round < 6; round++) {
      // Mixed parallel bursts make the pool open several sockets and reuse them in varying order.
      await Promise.all(clients.map((send, i) => send(`/pair/${round}/${i}`)))
      await Promise.all(clients.map((send, i) => send(`/pair/${round}/${i}/b`)))
    }
    const received = upstream.received.slice(before)
    const perConnection = new Map<number, number>()
    for (const r of received) perConnection.set(r.connection, (perConnection.get(r.connection) ?? 0) + 1)
    const reusedAtUpstream = [...perConnection.values()].reduce((sum, n) => sum + n - 1, 0)

    const stats = dispatcher.stats()
    expect(stats.requests).toBe(48)
    expect(received).toHaveLength(48)
    expect(stats.socketsOpened).toBe(perConnection.size)
    expect(stats.reusedRequests).toBe(reusedAtUpstream)
    expect(stats.reusedRequests).toBeGreaterThan(0)
    await dispatcher.close()
    expect(dispatcher.stats().openSockets).toBe(0)
  })
})
