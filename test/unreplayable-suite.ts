import { type StaleguardDispatcher, type StaleguardOptions, createFetch } from '@staleguard/core'
import { type HopKind, type Workload, type WorkloadResult, fetchClient, runWorkload } from '@staleguard/lab'
import { useHop, useUpstream } from '@staleguard/lab/vitest'
import { describe, expect, it } from 'vitest'

/** Each workload runs this many times at once, each run with its own dispatcher (and so its own first gap). */
const RUNS = 5
const BURSTS = 6
const BURST_SIZE = 8

interface Run {
  readonly result: WorkloadResult
  readonly dispatcher: StaleguardDispatcher
}

/**
 * Zero lost POSTs: behind one kind of hop, with the client's keep-alive (4 s) far longer than the hop's idle
 * limit (300 ms) and learning on, POSTs without an Idempotency-Key mixed with GETs, or alone (nothing to
 * learn from), in bursts after idle gaps: none fails, none arrives twice, no GET is lost, from the first
 * burst after the first gap on. Counted at the upstream, RUNS runs side by side.
 */
export function defineUnreplayableSuite(
  kind: HopKind,
  { unprotectedMustLose }: { unprotectedMustLose: boolean },
): void {
  describe(`requests that cannot be replayed, behind ${kind}`, () => {
    const upstream = useUpstream()
    const hop = useHop(kind, upstream)

    async function runs(workload: Workload, options?: StaleguardOptions): Promise<Run[]> {
      return Promise.all(
        Array.from({ length: RUNS }, async () => {
          const staleguardFetch = createFetch(options)
          const client = fetchClient('staleguard', staleguardFetch, () => staleguardFetch.dispatcher.close())
          const result = await runWorkload(client, hop, upstream, workload)
          await client.close()
          return { result, dispatcher: staleguardFetch.dispatcher }
        }),
      )
    }

    if (unprotectedMustLose) {
      it('with protectUnreplayable off, POSTs without a key fail here: the lab can tell', async (ctx) => {
        if (!hop.available) return ctx.skip()
        const all = await runs(
          { method: 'POST', shape: 'sequential', bursts: BURSTS, burstSize: BURST_SIZE },
          { protectUnreplayable: false },
        )
        const failed = all.reduce((sum, run) => sum + (run.result.lostByMethod.POST ?? 0), 0)
        expect(failed).toBeGreaterThan(0)
        expect(all.every((run) => run.result.duplicated === 0)).toBe(true)
      })
    }

    it.for<Workload & { readonly label: string }>([
      {
        label: 'POSTs mixed with GETs, sequential',
        method: 'POST',
        alternate: 'GET',
        shape: 'sequential',
        bursts: BURSTS,
        burstSize: BURST_SIZE,
      },
      {
        label: 'POSTs mixed with GETs, parallel',
        method: 'POST',
        alternate: 'GET',
        shape: 'parallel',
        bursts: BURSTS,
        burstSize: BURST_SIZE,
      },
      { label: 'POSTs alone, sequential', method: 'POST', shape: 'sequential', bursts: BURSTS, burstSize: BURST_SIZE },
      { label: 'POSTs alone, parallel', method: 'POST', shape: 'parallel', bursts: BURSTS, burstSize: BURST_SIZE },
    ])('$label: 0 failed POSTs, 0 duplicated, 0 lost GETs in 5 runs', async (workload, ctx) => {
      if (!hop.available) return ctx.skip()
      const all = await runs(workload)
      const postsPerBurst = workload.alternate === undefined ? BURST_SIZE : BURST_SIZE / 2
      let sentOnNewConnection = 0
      for (const [i, { result, dispatcher }] of all.entries()) {
        const stats = dispatcher.stats()
        const context = `run ${i + 1}: ${JSON.stringify({ errors: result.errors, stats })}`
        expect(result.lost, context).toBe(0)
        expect(result.duplicated, context).toBe(0)
        expect(result.delivered, context).toBe(result.sent)
        expect(stats.failedRequests, context).toBe(0)
        // The cost: one connection per POST in flight after a gap, at most; sequential POSTs share one.
        const inFlight = workload.shape === 'sequential' ? 1 : postsPerBurst
        expect(stats.unreplayableOnNewConnection, context).toBeLessThanOrEqual(BURSTS * inFlight)
        sentOnNewConnection += stats.unreplayableOnNewConnection
      }
      const sent = all.reduce((sum, run) => sum + run.result.sent, 0)
      console.log(
        `[unreplayable] ${kind}, ${workload.label}: ${sent} requests, ${sentOnNewConnection} POSTs on a new connection`,
      )
      // Behind a hop that kills idle sockets silently (where unprotected POSTs are shown to fail), the rule did
      // the saving: POSTs met idle sockets past what the hop was proven to keep. A hop that closes idle
      // sockets with a FIN in time leaves undici nothing to write on, and the rule may never need to act.
      if (unprotectedMustLose) expect(sentOnNewConnection).toBeGreaterThan(0)
    })
  })
}
