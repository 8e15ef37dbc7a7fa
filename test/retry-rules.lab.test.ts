import { Readable } from 'node:stream'
import {
  type StaleguardDispatcher,
  type StaleguardOptions,
  createFetch,
  getStaleguardDiagnostics,
} from '@staleguard/core'
import { type FaultProxy, freePort, sleep, startFaultProxy, startUpstream } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import { Agent, request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

const IDLE_MS = 300

describe('retry rules, against real sockets', () => {
  const upstream = useUpstream()
  let proxy: FaultProxy
  const dispatchers: StaleguardDispatcher[] = []
  beforeAll(async () => {
    proxy = await startFaultProxy({ port: upstream.port }, { kind: 'pass' })
  })
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.close()))
    proxy.mode = { kind: 'pass' }
  })
  afterAll(() => proxy.close())

  function staleguard(options: StaleguardOptions = {}) {
    const f = createFetch({ learnIdleLimit: false, ...options })
    dispatchers.push(f.dispatcher)
    return f
  }

  /** Opens one pooled socket, then leaves it idle past the hop's limit so the next request finds it dead. */
  async function staleSocket(f: ReturnType<typeof staleguard>, tag: string): Promise<void> {
    proxy.mode = { kind: 'rst-after-idle', idleMs: IDLE_MS }
    await f(`${proxy.origin}/warm/${tag}`).then((r) => r.text())
    await sleep(IDLE_MS + 100)
  }

  it('retries a stale GET on a new connection that carries nothing else', async () => {
    const f = staleguard()
    await staleSocket(f, 'new-connection')
    expect(await f(`${proxy.origin}/retried`).then((r) => r.status)).toBe(200)
    const [arrival] = upstream.received.filter((r) => r.path === '/retried')
    expect(arrival).toBeDefined()
    expect(upstream.received.filter((r) => r.connection === arrival!.connection)).toHaveLength(1)
    expect(f.dispatcher.stats()).toMatchObject({ staleFailures: 1, retries: 1, retriesSucceeded: 1 })
  })

  it("opens a retry's connection in the dead socket's place: a `connections` cap holds, no connection more", async () => {
    const f = staleguard({ connections: 2 })
    proxy.mode = { kind: 'rst-after-idle', idleMs: IDLE_MS }
    const burst = (tag: string) =>
      Promise.all([0, 1].map((i) => f(`${proxy.origin}/slow?ms=50&cap=${tag}-${i}`).then((r) => r.status)))
    const flowsBefore = proxy.stats.flows
    expect(await burst('warm')).toEqual([200, 200])
    await sleep(IDLE_MS + 100)
    // Both pooled sockets are dead: both GETs are retried, each on a new connection in its socket's place…
    expect(await burst('after-gap')).toEqual([200, 200])
    expect(f.dispatcher.stats()).toMatchObject({ staleFailures: 2, retries: 2, retriesSucceeded: 2 })
    // …which the pool then keeps: the next burst reuses them.
    expect(await burst('reuse')).toEqual([200, 200])
    expect(proxy.stats.flows - flowsBefore).toBe(4)
    expect(f.dispatcher.stats().openSockets).toBeLessThanOrEqual(2)
  })

  it('sends a stream body or a POST without key after an idle gap on a new connection: once, and it arrives', async () => {
    const f = staleguard()
    await staleSocket(f, 'protected')
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('streamed'))
        c.close()
      },
    })
    const put = await f(`${proxy.origin}/protected-put`, { method: 'PUT', body, duplex: 'half' } as RequestInit)
    expect(put.status).toBe(200)
    await sleep(IDLE_MS + 100)
    const post = await f(`${proxy.origin}/protected-post`, { method: 'POST', body: 'once' })
    expect(post.status).toBe(200)
    expect(upstream.count('PUT', '/protected-put')).toBe(1)
    expect(upstream.count('POST', '/protected-post')).toBe(1)
    // Neither met the dead socket: no stale failure, no retry; each was sent on a connection opened for it.
    expect(f.dispatcher.stats()).toMatchObject({ staleFailures: 0, retries: 0, unreplayableOnNewConnection: 2 })
  })

  it('moves a POST off a socket that went suspect between the choice and the write (a blocked event loop)', async () => {
    const f = staleguard()
    await f(`${upstream.origin}/warm/blocked`).then((r) => r.text())
    await sleep(50)
    // Idle 50 ms when dispatched: the pool's pick is fine, and undici takes the socket. It writes a turn of the
    // event loop later (it first reads what the idle socket may hold), which this loop blocks for 300 ms.
    const posted = request(`${upstream.origin}/blocked-post`, {
      method: 'POST',
      body: 'once',
      dispatcher: f.dispatcher,
    })
    const until = performance.now() + 300
    while (performance.now() < until) {}
    const response = await posted
    await response.body.text()
    expect(response.statusCode).toBe(200)
    const [warm] = upstream.received.filter((r) => r.path === '/warm/blocked')
    const arrivals = upstream.received.filter((r) => r.path === '/blocked-post')
    expect(arrivals).toHaveLength(1)
    expect(arrivals[0]!.connection).not.toBe(warm!.connection)
    // The suspect socket is closed and its Client connects anew for the POST: one new connection, as many open.
    expect(f.dispatcher.stats()).toMatchObject({
      unreplayableOnNewConnection: 1,
      socketsEvicted: 1,
      staleFailures: 0,
      failedRequests: 0,
    })
  })

  it('never replays a stream body (protectUnreplayable off, so that it meets the dead socket)', async () => {
    const f = staleguard({ protectUnreplayable: false })
    await staleSocket(f, 'stream')
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('streamed'))
        c.close()
      },
    })
    const error = await f(`${proxy.origin}/stream-put`, { method: 'PUT', body, duplex: 'half' } as RequestInit).catch(
      (e: unknown) => e,
    )
    expect(getStaleguardDiagnostics(error)?.retryDecision).toBe('body-not-replayable')
    expect(upstream.count('PUT', '/stream-put')).toBe(0)

    await staleSocket(f, 'node-stream')
    const viaRequest = await request(`${proxy.origin}/stream-put-2`, {
      method: 'PUT',
      body: Readable.from(['streamed']),
      dispatcher: f.dispatcher,
    }).catch((e: unknown) => e)
    expect(getStaleguardDiagnostics(viaRequest)?.retryDecision).toBe('body-not-replayable')
    expect(upstream.count('PUT', '/stream-put-2')).toBe(0)
    expect(f.dispatcher.stats().retries).toBe(0)
  })

  it('replays a fixed-length fetch body byte for byte', async () => {
    const f = staleguard()
    await staleSocket(f, 'replay')
    const payload = JSON.stringify({ text: 'é'.repeat(5_000) })
    expect((await f(`${proxy.origin}/replayed-put`, { method: 'PUT', body: payload })).status).toBe(200)
    const arrivals = upstream.received.filter((r) => r.path === '/replayed-put')
    expect(arrivals.map((r) => r.body)).toEqual([payload])
    expect(f.dispatcher.stats().retries).toBe(1)
  })

  it('keeps uploading when the server answers before it has read the body', async () => {
    const f = staleguard()
    const form = new FormData()
    for (let i = 0; i < 40; i++) form.append(`part${i}`, new Blob(['x'.repeat(20_000)]))
    const response = await f(`${proxy.origin}/early/form`, { method: 'PUT', body: form })
    expect(await response.text()).toMatch(/^early read \d+$/)
    // A slow producer: the response headers arrive while most of the body is still to come.
    const chunks = (async function* () {
      for (let i = 0; i < 100; i++) {
        await sleep(1)
        yield Buffer.alloc(10_000, 'y')
      }
    })()
    const viaRequest = await request(`${proxy.origin}/early/iterable`, {
      method: 'PUT',
      body: chunks as never,
      headers: { 'content-length': '1000000' },
      dispatcher: f.dispatcher,
    })
    expect(await viaRequest.body.text()).toMatch(/^early read \d+$/)
    expect(upstream.received.find((r) => r.path === '/early/iterable')?.body.length).toBe(1_000_000)
  })

  it('does not blame the socket, nor retry, when the body source itself fails', async () => {
    const f = staleguard()
    await staleSocket(f, 'body-failure')
    proxy.mode = { kind: 'pass' }
    const failing = (async function* () {
      yield Buffer.from('first part')
      // What an aborted incoming upload being proxied reports.
      throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' })
    })()
    const error = await request(`${proxy.origin}/body-failure`, {
      method: 'PUT',
      body: failing as never,
      headers: { 'content-length': '100' },
      dispatcher: f.dispatcher,
    }).catch((e: unknown) => e)
    expect(getStaleguardDiagnostics(error)?.retryDecision).toBe('body-failed')
    expect(f.dispatcher.stats()).toMatchObject({ retries: 0, staleFailures: 0 })
  })

  it('does not retry a failure in the middle of a response body', async () => {
    const f = staleguard()
    const response = await f(`${proxy.origin}/mid-body`)
    const error = await response.text().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(upstream.count('GET', '/mid-body')).toBe(1)
    expect(proxy.stats.midBodyResets).toBeGreaterThan(0)
    expect(f.dispatcher.stats().retries).toBe(0)
  })

  it('does not retry an aborted request', async () => {
    const f = staleguard()
    const error = await f(`${proxy.origin}/hang`, { signal: AbortSignal.timeout(200) }).catch((e: unknown) => e)
    expect((error as Error).name).toMatch(/AbortError|TimeoutError/)
    await sleep(50)
    expect(upstream.count('GET', '/hang')).toBe(1)
    expect(f.dispatcher.stats().retries).toBe(0)
  })

  it('does not retry a failure on a fresh connection: refused, or reset before any reuse', async () => {
    const f = staleguard()
    const closedPort = await freePort()
    const refused = await f(`http://127.0.0.1:${closedPort}/refused`).catch((e: unknown) => e)
    expect(getStaleguardDiagnostics(refused)?.retryDecision).toBe('not-stale')

    proxy.mode = { kind: 'reset-all' }
    const reset = await f(`${proxy.origin}/reset-fresh`).catch((e: unknown) => e)
    expect(getStaleguardDiagnostics(reset)).toMatchObject({
      retryDecision: 'fresh-connection',
      reused: false,
      staleSocketError: true,
    })
    expect(upstream.count('GET', '/reset-fresh')).toBe(0)
    expect(f.dispatcher.stats().retries).toBe(0)
  })

  it('never runs out of budget for an upstream that kills every reused connection but answers every retry', async () => {
    // Every other request meets a dead socket (50 %, far above the 20 % ratio), and every retry succeeds.
    const f = staleguard({ retry: { budget: { ratio: 0.2, minRetries: 5, windowMs: 60_000 } } })
    proxy.mode = { kind: 'reset-reused' }
    let lost = 0
    for (let i = 0; i < 60; i++) {
      await f(`${proxy.origin}/closing/${i}`)
        .then((r) => r.text())
        .catch(() => lost++)
    }
    const stats = f.dispatcher.stats()
    expect(lost).toBe(0)
    expect(stats.staleFailures).toBeGreaterThan(0.2 * stats.requests)
    expect(stats.retriesDeniedByBudget).toBe(0)
    expect(stats.retriesSucceeded).toBe(stats.retries)
  })

  it('stops retrying within the budget when the upstream is dead: every reused socket resets, every new one too', async () => {
    const f = staleguard({ connections: 40, retry: { budget: { ratio: 0.2, minRetries: 5, windowMs: 60_000 } } })
    // 40 pooled sockets, then the upstream dies: each request meets a dead reused socket, each retry fails.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => f(`${proxy.origin}/slow?ms=50&warm=${i}`).then((r) => r.text())),
    )
    proxy.mode = { kind: 'reset-all' }
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => f(`${proxy.origin}/dead/${i}`).then((r) => r.text())),
    )
    const stats = f.dispatcher.stats()
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(0)
    expect(stats.staleFailures).toBeGreaterThan(20)
    expect(stats.retriesDeniedByBudget).toBeGreaterThan(0)
    expect(stats.retries).toBeLessThanOrEqual(Math.max(5, 0.2 * stats.requests))
    expect(stats.retriesSucceeded).toBe(0)
  })

  it('does not let a Keep-Alive: timeout=600 hint lift the idle time above the ceiling', async () => {
    const hinting = await startUpstream({ keepAliveHintSeconds: 600 })
    try {
      const f = staleguard({ keepAliveTimeout: IDLE_MS })
      const plain = new Agent({ keepAliveTimeout: IDLE_MS, keepAliveMaxTimeout: 600_000 })
      const viaPlain = (path: string) =>
        fetch(hinting.origin + path, { dispatcher: plain } as unknown as RequestInit).then((r) => r.text())
      await f(hinting.origin + '/hint/1').then((r) => r.text())
      await viaPlain('/hint/plain-1')
      expect(hinting.connections).toBe(2)
      await sleep(IDLE_MS * 3)
      expect(f.dispatcher.stats().openSockets).toBe(0)
      await f(hinting.origin + '/hint/2').then((r) => r.text())
      await viaPlain('/hint/plain-2')
      // staleguard retired its idle socket and opened a new one; the plain Agent, raised by the hint, reused.
      expect(hinting.connections).toBe(3)
      await plain.close()
    } finally {
      await hinting.close()
    }
  })

  it('retires sockets before the hop when the upstream idle timeout is configured: no stale failure at all', async () => {
    const f = staleguard({ upstreamIdleTimeout: IDLE_MS })
    proxy.mode = { kind: 'rst-after-idle', idleMs: IDLE_MS }
    for (let burst = 0; burst < 6; burst++) {
      await Promise.all(
        Array.from({ length: 4 }, (_, i) => f(`${proxy.origin}/configured/${burst}/${i}`).then((r) => r.text())),
      )
      await sleep(IDLE_MS + 50)
    }
    expect(f.dispatcher.stats()).toMatchObject({ staleFailures: 0, failedRequests: 0 })
  })
})
