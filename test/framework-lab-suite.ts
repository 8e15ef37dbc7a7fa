import { type HopKind, runWorkload } from '@staleguard/lab'
import { useHop, useUpstream } from '@staleguard/lab/vitest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Framework, type RunningApp, appClient, startApp } from './framework-apps.js'

const HOPS: readonly HopKind[] = ['silent-drop', 'fin-race', 'nginx']
/** The scoped fetch, and the fast path (`staleguard.request`). */
const VIA = ['fetch', 'request'] as const

/**
 * One framework on a real listening server: incoming requests whose handlers call the upstream through
 * the scoped fetch, behind each hop, after idle gaps. Counts are taken at the upstream.
 */
export function defineFrameworkLabSuite(framework: Framework): void {
  describe(`${framework} handlers calling upstream`, () => {
    const upstream = useUpstream()

    describe.each(HOPS.flatMap((hop) => VIA.map((via) => [hop, via] as const)))(
      'behind %s, calling with %s',
      (kind, via) => {
        const hop = useHop(kind, upstream)
        let app: RunningApp
        beforeAll(async () => {
          app = await startApp(framework)
        })
        afterAll(() => app.close())

        it('fails no GET handler across 10 parallel bursts of 8 after idle gaps', async (ctx) => {
          if (!hop.available) return ctx.skip()
          const client = appClient(app, via)
          const result = await runWorkload(client, hop, upstream, {
            method: 'GET',
            shape: 'parallel',
            bursts: 10,
            burstSize: 8,
          })
          await client.close()
          expect(result.lost, JSON.stringify(result.errors)).toBe(0)
          expect(result.delivered).toBe(result.sent)
        })

        it('sends each POST without Idempotency-Key upstream at most once', async (ctx) => {
          if (!hop.available) return ctx.skip()
          const client = appClient(app, via)
          const result = await runWorkload(client, hop, upstream, {
            method: 'POST',
            shape: 'sequential',
            bursts: 10,
            burstSize: 8,
          })
          await client.close()
          expect(result.duplicated).toBe(0)
          expect(result.delivered + result.lost).toBe(result.sent)
        })
      },
    )
  })
}
