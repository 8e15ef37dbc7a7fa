import { execFile } from 'node:child_process'
import diagnosticsChannel from 'node:diagnostics_channel'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { sleep, startFaultProxy, startUpstream } from '@staleguard/lab'
import { describe, expect, it } from 'vitest'
import {
  STALEGUARD_CHANNELS,
  type EvictEvent,
  type IdleLimitEvent,
  type RetryEvent,
  type StaleFailureEvent,
} from './events.js'
import { createFetch } from '../api/create-fetch.js'

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url))

describe('diagnostics', () => {
  it('publishes typed events on the documented channels', async () => {
    const upstream = await startUpstream()
    const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 300 })
    const seen = {
      stale: [] as StaleFailureEvent[],
      retry: [] as RetryEvent[],
      evict: [] as EvictEvent[],
      idleLimit: [] as IdleLimitEvent[],
    }
    const subscribers = Object.entries(STALEGUARD_CHANNELS).map(([key, name]) => {
      const onMessage = (message: unknown) => (seen[key as keyof typeof seen] as unknown[]).push(message)
      diagnosticsChannel.subscribe(name, onMessage)
      return () => diagnosticsChannel.unsubscribe(name, onMessage)
    })
    const staleguard = createFetch()
    try {
      // Three pooled sockets go idle past the hop; the next requests come one by one, so the first failure
      // has idle siblings to evict.
      await Promise.all([1, 2, 3].map((i) => staleguard(`${proxy.origin}/events/${i}`).then((r) => r.text())))
      await sleep(700)
      for (const i of [4, 5, 6]) await staleguard(`${proxy.origin}/events/${i}`).then((r) => r.text())
    } finally {
      for (const unsubscribe of subscribers) unsubscribe()
      await staleguard.dispatcher.close()
      await proxy.close()
      await upstream.close()
    }
    expect(seen.stale.length).toBeGreaterThan(0)
    for (const event of seen.stale) {
      expect(event).toMatchObject({
        origin: proxy.origin,
        method: 'GET',
        reused: true,
        attempt: 1,
        retryDecision: 'retried',
      })
      expect(event.idleMs).toBeGreaterThan(300)
      expect((event.error as { code?: string }).code).toBe('ECONNRESET')
    }
    expect(seen.retry).toHaveLength(seen.stale.length)
    expect(seen.retry[0]).toMatchObject({ origin: proxy.origin, attempt: 2 })
    expect(seen.idleLimit[0]).toMatchObject({ origin: proxy.origin, previousMs: 4_000, reason: 'stale-failure' })
    expect(seen.idleLimit[0]!.limitMs).toBeLessThan(700)
    expect(seen.evict.some((e) => e.origin === proxy.origin && e.sockets > 0)).toBe(true)
  })

  it('writes one NODE_DEBUG=staleguard line per stale failure, retry, eviction and limit change', async () => {
    const fixture = fileURLToPath(new URL('../../../../test/fixtures/stale-scenario.ts', import.meta.url))
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], {
      cwd: ROOT,
      env: { ...process.env, NODE_DEBUG: 'staleguard' },
    })
    const { stats } = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      stats: { staleFailures: number; retries: number }
    }
    const lines = stderr.split('\n').filter((line) => /^STALEGUARD \d+: /.test(line))
    const of = (kind: string) => lines.filter((line) => line.includes(`: ${kind} `))
    expect(of('stale')).toHaveLength(stats.staleFailures)
    expect(of('retry')).toHaveLength(stats.retries)
    expect(of('stale')[0]).toMatch(
      /origin=http:\/\/127\.0\.0\.1:\d+ GET \/debug\/\d reused=true idleMs=\d+ attempt=1 decision=retried code=ECONNRESET/,
    )
    expect(of('evict').length).toBeGreaterThan(0)
    expect(of('idle-limit')[0]).toMatch(/previousMs=4000 limitMs=\d+ reason=stale-failure/)
  })
})
