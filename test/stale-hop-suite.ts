import { getStaleguardDiagnostics } from '@staleguard/core'
import { type HopKind, type Workload, plainFetchClient, runWorkload } from '@staleguard/lab'
import { useHop, useUpstream } from '@staleguard/lab/vitest'
import { describe, expect, it } from 'vitest'
import { STALEGUARD_CLIENTS, recordingFailures } from './staleguard-clients.js'

const BURSTS = 10
const BURST_SIZE = 8

/**
 * The scenario table: what staleguard promises behind one kind of hop, asserted as counts of lost and
 * duplicated requests at the upstream. Each staleguard entry point runs the whole table.
 */
export function defineStaleHopSuite(kind: HopKind, { plainFetchMustLose }: { plainFetchMustLose: boolean }): void {
  describe(`behind ${kind}`, () => {
    const upstream = useUpstream()
    const hop = useHop(kind, upstream)

    if (plainFetchMustLose) {
      it('plain global fetch loses requests: the lab reproduces the bug', async (ctx) => {
        if (!hop.available) return ctx.skip()
        const client = plainFetchClient()
        const result = await runWorkload(client, hop, upstream, {
          method: 'GET',
          shape: 'parallel',
          bursts: 6,
          burstSize: BURST_SIZE,
        })
        expect(result.lost).toBeGreaterThan(0)
      })
    }

    for (const factory of STALEGUARD_CLIENTS) {
      describe(factory.name, () => {
        it.for<Workload>([
          { method: 'GET', shape: 'parallel', bursts: BURSTS, burstSize: BURST_SIZE },
          { method: 'PUT', shape: 'sequential', bursts: BURSTS, burstSize: BURST_SIZE },
          { method: 'DELETE', shape: 'parallel', bursts: BURSTS, burstSize: BURST_SIZE },
        ])('loses no $method across $bursts $shape bursts after idle gaps', async (workload, ctx) => {
          if (!hop.available) return ctx.skip()
          const { client, dispatcher } = factory.make()
          const result = await runWorkload(client, hop, upstream, workload)
          await client.close()
          expect(result.lost, JSON.stringify(result.errors)).toBe(0)
          expect(result.delivered).toBe(result.sent)
          expect(dispatcher.stats().requests).toBe(result.sent)
        })

        it('saves every GET by retrying alone (learning off): one stale failure per idle gap at most', async (ctx) => {
          if (!hop.available) return ctx.skip()
          const { client, dispatcher } = factory.make({ learnIdleLimit: false })
          const result = await runWorkload(client, hop, upstream, {
            method: 'GET',
            shape: 'sequential',
            bursts: BURSTS,
            burstSize: BURST_SIZE,
          })
          await client.close()
          const stats = dispatcher.stats()
          expect(result.lost, JSON.stringify(result.errors)).toBe(0)
          expect(stats.staleFailures).toBeLessThanOrEqual(BURSTS)
          expect(stats.retries).toBe(stats.staleFailures)
          expect(stats.retriesSucceeded).toBe(stats.retries)
        })

        it('sends a POST without Idempotency-Key at most once, and explains each failure', async (ctx) => {
          if (!hop.available) return ctx.skip()
          const made = factory.make({ learnIdleLimit: false })
          const { dispatcher } = made
          const { client, errors: failures } = recordingFailures(made.client)
          const result = await runWorkload(client, hop, upstream, {
            method: 'POST',
            shape: 'sequential',
            bursts: BURSTS,
            burstSize: BURST_SIZE,
          })
          await client.close()
          expect(result.duplicated).toBe(0)
          expect(dispatcher.stats().retries).toBe(0)
          expect(result.delivered + result.lost).toBe(result.sent)
          for (const failure of failures) {
            const diagnostics = getStaleguardDiagnostics(failure)
            expect(diagnostics?.retryDecision).toBe('not-idempotent')
            expect(diagnostics?.reused).toBe(true)
            expect(diagnostics?.explanation).toMatch(/Idempotency-Key/)
          }
        })

        it('retries a POST that carries an Idempotency-Key', async (ctx) => {
          if (!hop.available) return ctx.skip()
          const { client } = factory.make({ learnIdleLimit: false })
          const result = await runWorkload(client, hop, upstream, {
            method: 'POST',
            idempotencyKey: true,
            shape: 'sequential',
            bursts: BURSTS,
            burstSize: BURST_SIZE,
          })
          await client.close()
          expect(result.lost, JSON.stringify(result.errors)).toBe(0)
          expect(result.delivered).toBe(result.sent)
        })
      })
    }
  })
}
