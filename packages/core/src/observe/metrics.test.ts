import { sleep, startFaultProxy, startUpstream } from '@staleguard/lab'
import * as promClient from 'prom-client'
import { describe, expect, it } from 'vitest'
import { createFetch } from '../api/create-fetch.js'
import { formatPrometheusMetrics, registerPromClientMetrics, STALEGUARD_METRICS } from './metrics.js'

describe('metrics', () => {
  it('exposes the counters of a real stale-failure run, as Prometheus text and through prom-client', async () => {
    const upstream = await startUpstream()
    const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 200 })
    const staleguard = createFetch({ learnIdleLimit: false })
    try {
      await staleguard(`${proxy.origin}/m/1`).then((r) => r.text())
      await sleep(300)
      await staleguard(`${proxy.origin}/m/2`).then((r) => r.text())
      const stats = staleguard.dispatcher.stats()
      expect(stats).toMatchObject({ requests: 2, staleFailures: 1, retries: 1 })

      const text = formatPrometheusMetrics(staleguard.dispatcher)
      const label = `{origin="${proxy.origin}"}`
      expect(text).toContain('# TYPE staleguard_requests_total counter')
      expect(text).toContain(`staleguard_requests_total${label} 2`)
      expect(text).toContain(`staleguard_stale_failures_total${label} 1`)
      expect(text).toContain(`staleguard_retries_total${label} 1`)
      expect(text).toContain(`staleguard_idle_limit_seconds${label} 4`)
      expect(text).not.toContain('staleguard_learned_idle_limit_seconds{')
      // Every sample line is `name{labels} number`.
      for (const line of text
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('#')))
        expect(line).toMatch(/^staleguard_[a-z_]+\{origin="[^"]+"\} [0-9.]+$/)

      const registry = new promClient.Registry()
      const names = registerPromClientMetrics(promClient, staleguard.dispatcher, { registers: [registry] })
      expect(names).toEqual(STALEGUARD_METRICS.map((m) => `staleguard_${m.name}`))
      const scraped = await registry.metrics()
      expect(scraped).toContain(`staleguard_requests_total${label} 2`)
      expect(scraped).toContain(`staleguard_retries_succeeded_total${label} 1`)
      await staleguard(`${proxy.origin}/m/3`).then((r) => r.text())
      expect(await registry.metrics()).toContain(`staleguard_requests_total${label} 3`)
    } finally {
      await staleguard.dispatcher.close()
      await proxy.close()
      await upstream.close()
    }
  })
})
