import { type StaleguardDispatcher, createFetch } from '@staleguard/core'
import {
  type FaultProxy,
  type Http2Upstream,
  type LabClient,
  type TestCertificate,
  type Workload,
  createTestCertificate,
  fetchClient,
  runWorkload,
  startFaultProxy,
  startHttp2Upstream,
} from '@staleguard/lab'
import { Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UNCOMPOSED_CLIENTS } from './staleguard-clients.js'

/**
 * HTTP/2 sessions that die without a word: behind a NAT that forgets idle flows (RST on the next packet),
 * and on a server that crashes and comes back. No GOAWAY, so the HTTP/1.1 rules hold: idempotent requests
 * are saved, a POST without a key is never sent twice. Counted at a `node:http2` server (allowH2 on, so the
 * same on every Node).
 */
const NAT_IDLE_MS = 300

type Arrivals = Parameters<typeof runWorkload>[2]

function arrivalsOf(upstream: Http2Upstream): Arrivals {
  return {
    get received() {
      return [...upstream.arrivals].flatMap(([path, versions]) => versions.map(() => ({ path })))
    },
  } as unknown as Arrivals
}

interface Made {
  readonly client: LabClient
  readonly dispatcher: StaleguardDispatcher | null
}

describe('HTTP/2 sessions that die without a GOAWAY', () => {
  let certificate: TestCertificate
  let upstream: Http2Upstream
  let nat: FaultProxy
  beforeAll(async () => {
    certificate = createTestCertificate()
    upstream = await startHttp2Upstream({ certificate, allowHTTP1: false, sessionIdleMs: 60_000 })
    nat = await startFaultProxy(
      { port: Number(new URL(upstream.origin).port) },
      { kind: 'rst-after-idle', idleMs: NAT_IDLE_MS },
    )
  })
  afterAll(async () => {
    await nat?.close()
    await upstream?.close()
    certificate?.remove()
  })

  const options = () => ({ allowH2: true, connect: { ca: certificate.cert } })
  const clients: readonly { name: string; make(): Made }[] = [
    {
      name: 'plain fetch, h2 Agent',
      make() {
        const agent = new Agent(options())
        const send = ((url: string, init?: RequestInit) =>
          fetch(url, { ...init, dispatcher: agent } as unknown as RequestInit)) as typeof fetch
        return { client: fetchClient('plain', send, () => agent.close()), dispatcher: null }
      },
    },
    ...UNCOMPOSED_CLIENTS.map((factory) => ({ name: factory.name, make: (): Made => factory.make(options()) })),
  ]

  const workloads: readonly Workload[] = [
    { method: 'GET', shape: 'parallel', bursts: 5, burstSize: 6 },
    { method: 'PUT', shape: 'sequential', bursts: 5, burstSize: 3 },
    { method: 'POST', shape: 'parallel', bursts: 5, burstSize: 4 },
  ]

  describe('behind a NAT that forgets idle flows', () => {
    const hop = () => ({
      // The TLS name is 127.0.0.1 on either port: the NAT passes the bytes through.
      origin: `https://127.0.0.1:${nat.port}`,
      gapMs: () => NAT_IDLE_MS + 100,
    })
    for (const { name, make } of clients) {
      it.for(workloads)(`${name}: $method, $shape bursts after idle gaps`, async (workload) => {
        const { client, dispatcher } = make()
        const result = await runWorkload(client, hop(), arrivalsOf(upstream), workload)
        await client.close()
        expect(result.duplicated).toBe(0)
        if (dispatcher === null) {
          // The bug, reproduced: every burst after a gap dies with the session it was sent on.
          if (workload.method === 'GET') expect(result.lost).toBeGreaterThan(0)
          return
        }
        if (workload.method === 'POST') {
          // Not replayed: a NAT's RST says nothing about what the server processed.
          expect(result.delivered + result.lost).toBe(result.sent)
          return
        }
        expect(result.lost, JSON.stringify(result.errors)).toBe(0)
        expect(result.delivered).toBe(result.sent)
      })
    }
  })

  it('retires a session past maxConnectionAge once its streams are done, as it retires a socket', async () => {
    const count = async (extra: { maxConnectionAge?: number }) => {
      const f = createFetch({ ...options(), ...extra })
      const before = upstream.sessionsOpened
      for (let i = 0; i < 3; i++) {
        await f(`${upstream.origin}/age/${i}`).then((r) => r.text())
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      const stats = f.dispatcher.stats()
      await f.dispatcher.close()
      return { sessions: upstream.sessionsOpened - before, evicted: stats.socketsEvicted }
    }
    // Without an age limit one session carries all three requests.
    expect(await count({})).toEqual({ sessions: 1, evicted: 0 })
    const aged = await count({ maxConnectionAge: 200 })
    expect(aged.sessions).toBe(3)
    expect(aged.evicted).toBe(3)
  })

  describe('on a server that crashes and restarts between bursts', () => {
    const hop = () => ({ origin: upstream.origin, gapMs: () => 50 })
    for (const { name, make } of clients.slice(1)) {
      it(`${name}: loses no GET and sends no POST twice across restarts`, async () => {
        for (const method of ['GET', 'POST'] as const) {
          const { client } = make()
          // runWorkload waits `gapMs` between bursts; the restart happens inside that wait.
          let burst = 0
          const restarting = {
            ...client,
            send: async (url: string, init?: Parameters<LabClient['send']>[1]) => {
              const index = Number(url.split('/').at(-1))
              if (index > 0 && index % 4 === 0 && index / 4 > burst) {
                burst = index / 4
                await upstream.restart()
              }
              return client.send(url, init)
            },
          }
          const result = await runWorkload(restarting, hop(), arrivalsOf(upstream), {
            method,
            shape: 'sequential',
            bursts: 4,
            burstSize: 4,
          })
          await client.close()
          expect(result.duplicated).toBe(0)
          if (method === 'GET') expect(result.lost, JSON.stringify(result.errors)).toBe(0)
        }
      })
    }
  })
})
