import { once } from 'node:events'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { createFetch, createRequest, installGlobalDispatcher } from '@staleguard/core'
import {
  type LabClient,
  type TestCertificate,
  createTestCertificate,
  fetchClient,
  requestClient,
  runWorkload,
} from '@staleguard/lab'
import { Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * HTTP/2: installing staleguard keeps the protocol Node's fetch negotiates (h2 on Node 26, whose undici 8
 * offers it; HTTP/1.1 before), an h2-only server stays reachable wherever h2 is on, and sessions that the
 * server closes when idle (GOAWAY) lose no request. Counted at a `node:http2` server.
 */
const runtimeOffersH2 = Number(process.versions.undici?.split('.')[0] ?? 0) >= 8
const SESSION_IDLE_MS = 300

interface H2Upstream {
  readonly origin: string
  /** Per path: the HTTP versions of the requests that arrived. */
  readonly arrivals: Map<string, string[]>
  close(): Promise<void>
}

async function startH2Upstream(certificate: TestCertificate, allowHTTP1: boolean): Promise<H2Upstream> {
  const arrivals = new Map<string, string[]>()
  const server = http2.createSecureServer({ key: certificate.key, cert: certificate.cert, allowHTTP1 }, (req, res) => {
    const path = new URL(req.url, 'https://upstream').pathname
    req.resume()
    req.on('end', () => {
      arrivals.set(path, [...(arrivals.get(path) ?? []), req.httpVersion])
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ ok: true, version: req.httpVersion }))
    })
  })
  // An idle session is closed with GOAWAY, as h2 servers and proxies do on their idle timeout.
  server.setTimeout(SESSION_IDLE_MS)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

describe('HTTP/2', () => {
  let certificate: TestCertificate
  let both: H2Upstream
  let h2Only: H2Upstream
  let trusted: string | undefined
  beforeAll(async () => {
    certificate = createTestCertificate()
    both = await startH2Upstream(certificate, true)
    h2Only = await startH2Upstream(certificate, false)
    // Node's own fetch, the baseline, has no per-call CA: trust the test certificate for this process.
    trusted = process.env.NODE_TLS_REJECT_UNAUTHORIZED
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
  })
  afterAll(async () => {
    if (trusted === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = trusted
    await both?.close()
    await h2Only?.close()
    certificate?.remove()
  })

  const versionAt = (upstream: H2Upstream, path: string) => upstream.arrivals.get(path)?.at(-1)

  it('speaks to an upstream in the version Node fetch used before installing, on every entry point', async () => {
    await (await fetch(`${both.origin}/version/before`)).text()
    const before = versionAt(both, '/version/before')
    expect(before).toBe(runtimeOffersH2 ? '2.0' : '1.1')
    const installation = installGlobalDispatcher({ connect: { ca: certificate.cert } })
    try {
      await (await fetch(`${both.origin}/version/global`)).text()
      const { request } = await import('@staleguard/core')
      await (await request(`${both.origin}/version/fast-path`)).body.text()
    } finally {
      await installation.restore()
    }
    const staleguardFetch = createFetch({ connect: { ca: certificate.cert } })
    await (await staleguardFetch(`${both.origin}/version/create-fetch`)).text()
    await staleguardFetch.dispatcher.close()
    for (const entry of ['global', 'fast-path', 'create-fetch'])
      expect(versionAt(both, `/version/${entry}`), entry).toBe(before)
  })

  it.runIf(runtimeOffersH2)(
    "keeps an h2-only server reachable after installing, as Node's fetch reaches it",
    async () => {
      const installation = installGlobalDispatcher({ connect: { ca: certificate.cert } })
      try {
        const responses = await Promise.all([1, 2, 3].map((i) => fetch(`${h2Only.origin}/only/${i}`)))
        expect(responses.map((r) => r.status)).toEqual([200, 200, 200])
        await Promise.all(responses.map((r) => r.text()))
      } finally {
        await installation.restore()
      }
    },
  )

  it('reaches an h2-only server with allowH2 on, on any Node', async () => {
    const staleguardFetch = createFetch({ allowH2: true, connect: { ca: certificate.cert } })
    const response = await staleguardFetch(`${h2Only.origin}/only/opt-in`)
    expect(await response.json()).toEqual({ ok: true, version: '2.0' })
    await staleguardFetch.dispatcher.close()
  })

  describe('sessions the server closes when idle (GOAWAY)', () => {
    const hop = () => ({ origin: both.origin, gapMs: (b: number) => SESSION_IDLE_MS - 30 + ((b * 17) % 80) })
    const clients: readonly { name: string; make(): LabClient }[] = [
      {
        name: 'createFetch',
        make() {
          const f = createFetch({ allowH2: true, connect: { ca: certificate.cert } })
          return fetchClient('staleguard', f, () => f.dispatcher.close())
        },
      },
      {
        name: 'request (fast path)',
        make() {
          const r = createRequest({ allowH2: true, connect: { ca: certificate.cert } })
          return requestClient('staleguard request', r, () => r.dispatcher.close())
        },
      },
    ]
    // What runWorkload reads after a run: one record per arrival.
    const upstreamView = () => ({
      get received() {
        return [...both.arrivals].flatMap(([path, versions]) => versions.map(() => ({ path })))
      },
    })
    it('plain fetch over an h2 Agent loses GETs: the lab reproduces the bug', async () => {
      const agent = new Agent({ allowH2: true, connect: { ca: certificate.cert } })
      const plain = fetchClient('plain fetch, h2 Agent', ((url: string, init?: RequestInit) =>
        fetch(url, { ...init, dispatcher: agent } as unknown as RequestInit)) as typeof fetch)
      const result = await runWorkload(plain, hop(), upstreamView() as unknown as Parameters<typeof runWorkload>[2], {
        method: 'GET',
        shape: 'parallel',
        bursts: 24,
        burstSize: 6,
      })
      await agent.close()
      expect(result.lost).toBeGreaterThan(0)
    })

    for (const factory of clients) {
      it(`${factory.name}: loses no GET and sends no POST twice across idle gaps`, async () => {
        const get = factory.make()
        const gets = await runWorkload(get, hop(), upstreamView() as unknown as Parameters<typeof runWorkload>[2], {
          method: 'GET',
          shape: 'parallel',
          bursts: 6,
          burstSize: 6,
        })
        await get.close()
        expect(gets.lost, JSON.stringify(gets.errors)).toBe(0)
        const post = factory.make()
        const posts = await runWorkload(post, hop(), upstreamView() as unknown as Parameters<typeof runWorkload>[2], {
          method: 'POST',
          shape: 'sequential',
          bursts: 6,
          burstSize: 4,
        })
        await post.close()
        const arrivals = [...both.arrivals.values()].filter((versions) => versions.length > 1)
        expect(arrivals.length).toBe(0)
        expect(posts.duplicated).toBe(0)
      })
    }
  })
})
