import { createDispatcher } from '@staleguard/core'
import { type Upstream, sleep, startFaultProxy, startUpstream } from '@staleguard/lab'
import { Agent, type Dispatcher, request } from 'undici'
import { describe, expect, it } from 'vitest'

/**
 * Protection costs no connections a plain Agent would not open: staleguard's recovery (eviction, retries on
 * a connection of their own) and a server's `Connection: close` leave later traffic on kept-alive sockets.
 * Connections are counted at the upstream.
 */
async function connectionsFor(upstream: Upstream, run: () => Promise<void>): Promise<number> {
  const before = upstream.connections
  await run()
  return upstream.connections - before
}

const get = (dispatcher: Dispatcher, url: string) =>
  request(url, { dispatcher }).then((r) => r.body.text().then(() => r.statusCode))

describe('connections that hold', () => {
  it('keeps the pool after Connection: close: 50 connections for 150 requests closing every 3rd', async () => {
    const upstream = await startUpstream({ closeEveryNthResponse: 3 })
    try {
      const staleguard = createDispatcher()
      const agent = new Agent()
      const sequential = async (d: Dispatcher) => {
        for (let i = 0; i < 150; i++) expect(await get(d, `${upstream.origin}/seq/${i}`)).toBe(200)
      }
      const viaStaleguard = await connectionsFor(upstream, () => sequential(staleguard))
      const viaAgent = await connectionsFor(upstream, () => sequential(agent))
      console.log(`[connections] Connection: close every 3rd: staleguard ${viaStaleguard}, plain Agent ${viaAgent}`)
      expect(viaStaleguard).toBeLessThanOrEqual(51)
      expect(viaStaleguard).toBeLessThanOrEqual(viaAgent)
      expect(staleguard.stats().socketsOpened).toBe(viaStaleguard)
      expect(staleguard.stats().origins[upstream.origin]?.requestsPerSocket).toBe(3)

      const bursts = async (d: Dispatcher) => {
        for (let b = 0; b < 10; b++) {
          await Promise.all(Array.from({ length: 15 }, (_, i) => get(d, `${upstream.origin}/burst/${b}/${i}`)))
        }
      }
      const burstsViaStaleguard = await connectionsFor(upstream, () => bursts(staleguard))
      const burstsViaAgent = await connectionsFor(upstream, () => bursts(agent))
      console.log(`[connections] parallel bursts: staleguard ${burstsViaStaleguard}, plain Agent ${burstsViaAgent}`)
      expect(burstsViaStaleguard).toBeLessThanOrEqual(burstsViaAgent)
      await Promise.all([staleguard.close(), agent.close()])
    } finally {
      await upstream.close()
    }
  })

  it('keeps the pool after stale POSTs after idle gaps: ≤ a plain Agent’s connections + one per stale event', async () => {
    // Each through a hop and an upstream of its own, at the same time: a loaded machine's stalls then fall on
    // both alike. (Run one after the other, a stall longer than the learned idle limit in staleguard's run
    // alone had it retire a socket, a new connection the plain Agent's run, unstalled, did not need.)
    const paths = await Promise.all(
      [0, 1].map(async () => {
        const upstream = await startUpstream()
        return { upstream, proxy: await startFaultProxy({ port: upstream.port }, { kind: 'pass' }) }
      }),
    )
    try {
      // Six rounds of: an idle gap the hop does not survive, a POST without a key that dies on the reused
      // socket (never retried), then 30 GETs back to back.
      for (const { proxy } of paths) proxy.mode = { kind: 'rst-after-idle', idleMs: 300 }
      const rounds = async (d: Dispatcher, origin: string) => {
        await get(d, `${origin}/warm`)
        for (let round = 0; round < 6; round++) {
          await sleep(400)
          await request(`${origin}/poisoned/${round}`, { method: 'POST', body: 'x', dispatcher: d }).then(
            (r) => r.body.text(),
            () => 'lost',
          )
          for (let i = 0; i < 30; i++) {
            const status = await get(d, `${origin}/after/${round}/${i}`).catch(() => 'lost')
            if (status !== 200) lostGets.set(d, (lostGets.get(d) ?? 0) + 1)
          }
        }
      }
      const lostGets = new Map<Dispatcher, number>()
      const staleguard = createDispatcher()
      const agent = new Agent()
      const [viaStaleguard, viaAgent] = await Promise.all(
        ([staleguard, agent] as const).map((d, i) =>
          connectionsFor(paths[i]!.upstream, () => rounds(d, paths[i]!.proxy.origin)),
        ),
      )
      const stale = staleguard.stats().staleFailures
      console.log(
        `[connections] after stale POSTs: staleguard ${viaStaleguard} (stale ${stale}), plain Agent ${viaAgent} (lost ${lostGets.get(agent) ?? 0} GETs)`,
      )
      expect(lostGets.get(staleguard) ?? 0).toBe(0)
      expect(stale).toBeGreaterThanOrEqual(1)
      expect(viaStaleguard).toBeLessThanOrEqual(viaAgent! + stale)
      await Promise.all([staleguard.close(), agent.close()])
    } finally {
      for (const { proxy, upstream } of paths) {
        await proxy.close()
        await upstream.close()
      }
    }
  })
})
