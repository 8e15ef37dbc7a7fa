import diagnosticsChannel from 'node:diagnostics_channel'
import { STALEGUARD_CHANNELS, type StaleFailureEvent, createFetch } from '@staleguard/core'
import { fetchClient, runBursts, startFaultProxy } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import { describe, it } from 'vitest'

/**
 * Behind a hop that kills flows idle > 700 ms, with staleguard left at its 4 s default, the first stale failure
 * teaches the origin's limit (just below the idle that failed, not half of it) and no stale failure follows in
 * a long run of gaps.
 */
describe('learned idle limits', () => {
  const upstream = useUpstream()

  it.concurrent.for(['sequential', 'parallel'] as const)(
    'after the first stale failure, none follow across many idle gaps (%s bursts)',
    async (shape, { expect }) => {
      const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 700 })
      const staleguard = createFetch()
      const failures: { at: number; event: StaleFailureEvent }[] = []
      // Both shapes run at once: keep only this proxy's events.
      const onStale = (message: unknown) => {
        const event = message as StaleFailureEvent
        if (event.origin === proxy.origin) failures.push({ at: performance.now(), event })
      }
      diagnosticsChannel.subscribe(STALEGUARD_CHANNELS.stale, onStale)
      const gaps = [800, 1_000, 1_600, 900, 2_000, 1_200, 850, 1_400, 1_000, 1_800]
      const burstStarts: number[] = []
      let burst = 0
      const client = fetchClient('staleguard', staleguard)
      try {
        const result = await runBursts(
          (i) => {
            if (i % 4 === 0) burstStarts[burst++] = performance.now()
            return client.send(`${proxy.origin}/learned/${shape}/${i}`)
          },
          { bursts: gaps.length, burstSize: 4, shape, gapMs: (b) => gaps[b]! },
        )
        const stats = staleguard.dispatcher.stats()
        const origin = stats.origins[proxy.origin]!
        expect(result.failed, JSON.stringify(result.errors)).toBe(0)
        expect(origin.staleFailures).toBeGreaterThan(0)
        // Every stale failure happened in the first burst after the first idle gap; none after.
        expect(origin.staleFailures).toBeLessThanOrEqual(shape === 'sequential' ? 1 : 4)
        expect(proxy.stats.resets).toBe(origin.staleFailures)
        const secondGapBurst = burstStarts[2]!
        expect(failures.filter((f) => f.at >= secondGapBurst)).toEqual([])
        expect(origin.learnedIdleLimitMs).not.toBeNull()
        // Just below the shortest idle that failed (10 % under it), and within 15 % of the hop's 700 ms.
        const shortestFailure = Math.min(...failures.map((f) => f.event.idleMs ?? Number.POSITIVE_INFINITY))
        expect(origin.learnedIdleLimitMs!).toBeLessThan(shortestFailure)
        expect(origin.learnedIdleLimitMs!).toBeGreaterThanOrEqual(700 * 0.85)
        expect(origin.idleLimitMs).toBe(origin.learnedIdleLimitMs)
        expect(origin.socketsEvicted).toBeGreaterThan(0)
      } finally {
        diagnosticsChannel.unsubscribe(STALEGUARD_CHANNELS.stale, onStale)
        await staleguard.dispatcher.close()
        await proxy.close()
      }
    },
  )
})
