import { execFile } from 'node:child_process'
import diagnosticsChannel from 'node:diagnostics_channel'
import { fileURLToPath, pathToFileURL } from 'node:url'
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

/** Runs a script with NODE_DEBUG=staleguard; its stdout, and the staleguard lines it wrote to stderr. */
async function withDebug(args: readonly string[]): Promise<{ stdout: string; lines: string[] }> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_DEBUG: 'staleguard' },
  })
  return { stdout, lines: stderr.split('\n').filter((line) => /^STALEGUARD \d+: /.test(line)) }
}

/** The position of the first line that matches, to assert the order lines come in. */
const firstIndex = (lines: readonly string[], pattern: RegExp): number => lines.findIndex((line) => pattern.test(line))

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
    const order: string[] = []
    const subscribers = Object.entries(STALEGUARD_CHANNELS).map(([key, name]) => {
      const onMessage = (message: unknown) => {
        const list: unknown[] = seen[key as keyof typeof seen]
        list.push(message)
        order.push(key)
      }
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
    // The failure comes first, then what it caused, then the retry.
    expect(order.slice(0, 2)).toEqual(['stale', 'evict'])
    expect(order.indexOf('idleLimit')).toBeGreaterThan(order.indexOf('stale'))
    expect(order.indexOf('retry')).toBeGreaterThan(order.indexOf('idleLimit'))
    // Whole ms everywhere, half an idle time included.
    const times = [
      ...seen.stale.map((e) => e.idleMs),
      ...seen.retry.map((e) => e.idleMs),
      ...seen.evict.map((e) => e.minIdleMs),
      ...seen.idleLimit.flatMap((e) => [e.previousMs, e.limitMs]),
    ]
    for (const ms of times) expect(Number.isInteger(ms), `${ms} ms`).toBe(true)
  })

  it('writes one NODE_DEBUG=staleguard line per stale failure, retry, retry outcome, eviction and limit change', async () => {
    const fixture = fileURLToPath(new URL('../../../../test/fixtures/stale-scenario.ts', import.meta.url))
    const { stdout, lines } = await withDebug([fixture])
    const { stats } = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      stats: { staleFailures: number; retries: number; retriesSucceeded: number }
    }
    const of = (kind: string) => lines.filter((line) => line.includes(`: ${kind} `))
    const outcome = / attempt=\d+ (succeeded|failed): /
    expect(of('stale')).toHaveLength(stats.staleFailures)
    expect(of('retry').filter((line) => !outcome.test(line))).toHaveLength(stats.retries)
    expect(of('retry').filter((line) => line.includes(' succeeded: '))).toHaveLength(stats.retriesSucceeded)
    expect(stats.retriesSucceeded).toBeGreaterThan(0)
    expect(of('stale')[0]).toMatch(
      /origin=http:\/\/127\.0\.0\.1:\d+ GET \/debug\/\d reused=true idleMs=\d+ attempt=1 decision=retried code=ECONNRESET/,
    )
    expect(of('evict').length).toBeGreaterThan(0)
    expect(of('idle-limit')[0]).toMatch(/previousMs=4000 limitMs=\d+ reason=stale-failure/)

    // The first failure, then the evictions and the limit change it caused, its retry, and how the retry went.
    const path = of('stale')[0]!.match(/ GET (\/debug\/\d) /)![1]!
    const stale = firstIndex(lines, /: stale /)
    const evict = firstIndex(lines, /: evict .* reason=stale-failure/)
    const limit = firstIndex(lines, /: idle-limit .* reason=stale-failure/)
    const retry = firstIndex(lines, new RegExp(`: retry .* GET ${path} idleMs=\\d+ attempt=2 code=ECONNRESET$`))
    const succeeded = firstIndex(lines, new RegExp(`: retry .* GET ${path} attempt=2 succeeded: status=200$`))
    expect(
      [stale, evict, limit, retry, succeeded].every((i) => i >= 0),
      lines.join('\n'),
    ).toBe(true)
    expect(stale).toBeLessThan(evict)
    expect(stale).toBeLessThan(limit)
    expect(Math.max(evict, limit)).toBeLessThan(retry)
    expect(retry).toBeLessThan(succeeded)

    // Idle times and limits are whole ms on every line.
    for (const [, value] of lines.join('\n').matchAll(/(?:idleMs|minIdleMs|previousMs|limitMs)=(\S+)/g))
      expect(value).toMatch(/^\d+$/)
  })

  it('says on NODE_DEBUG=staleguard when a retry failed too, and why it went no further', async () => {
    // A reused socket is reset, and so is the retry's new connection (the upstream died): the caller gets the error.
    const core = pathToFileURL(fileURLToPath(new URL('../index.ts', import.meta.url))).href
    const script = `
      import { createFetch } from ${JSON.stringify(core)}
      import { startFaultProxy, startUpstream } from '@staleguard/lab'
      const upstream = await startUpstream()
      const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'pass' })
      const staleguard = createFetch()
      await staleguard(proxy.origin + '/warm').then((r) => r.text())
      await new Promise((resolve) => setTimeout(resolve, 50)) // the socket back in the pool, idle
      proxy.mode = { kind: 'reset-all' }
      const outcome = await staleguard(proxy.origin + '/doomed').then(() => 'answered', (e) => e.cause?.code)
      console.log(outcome)
      await staleguard.dispatcher.close()
      await proxy.close()
      await upstream.close()
    `
    const { stdout, lines } = await withDebug(['--input-type=module', '--eval', script])
    expect(stdout.trim()).toBe('ECONNRESET')
    const failed = firstIndex(
      lines,
      /: retry .* GET \/doomed attempt=2 failed: code=ECONNRESET decision=fresh-connection$/,
    )
    const retry = firstIndex(lines, /: retry .* GET \/doomed idleMs=\d+ attempt=2 code=ECONNRESET$/)
    const final = firstIndex(
      lines,
      /: stale .* GET \/doomed reused=false idleMs=\? attempt=2 decision=fresh-connection/,
    )
    expect(
      [retry, failed, final].every((i) => i >= 0),
      lines.join('\n'),
    ).toBe(true)
    expect(retry).toBeLessThan(failed)
    expect(failed).toBeLessThan(final)
    expect(lines.some((line) => line.includes(' succeeded: '))).toBe(false)
  })

  it('says on NODE_DEBUG=staleguard when a POST went on a new connection, and why', async () => {
    // A POST without a key, after the only socket has been idle past the 250 ms floor (no evidence yet).
    const core = pathToFileURL(fileURLToPath(new URL('../index.ts', import.meta.url))).href
    const script = `
      import { createFetch } from ${JSON.stringify(core)}
      import { startUpstream } from '@staleguard/lab'
      const upstream = await startUpstream()
      const staleguard = createFetch()
      await staleguard(upstream.origin + '/warm', { method: 'POST', body: 'a' }).then((r) => r.text())
      await new Promise((resolve) => setTimeout(resolve, 300))
      await staleguard(upstream.origin + '/moved', { method: 'POST', body: 'b' }).then((r) => r.text())
      console.log(JSON.stringify(staleguard.dispatcher.stats()))
      await staleguard.dispatcher.close()
      await upstream.close()
    `
    const { stdout, lines } = await withDebug(['--input-type=module', '--eval', script])
    const stats = JSON.parse(stdout.trim()) as { unreplayableOnNewConnection: number; socketsOpened: number }
    expect(stats).toMatchObject({ unreplayableOnNewConnection: 1, socketsOpened: 2 })
    const moved = lines.filter((line) => line.includes(': new-connection '))
    expect(moved, lines.join('\n')).toHaveLength(1)
    expect(moved[0]).toMatch(
      /: new-connection origin=http:\/\/127\.0\.0\.1:\d+ POST \/moved provenIdleMs=none affordableIdleMs=250 \(cannot be replayed/,
    )
  })
})
