import { type StaleguardOptions, getStaleguardDiagnostics } from '@staleguard/core'
import {
  type FaultProxy,
  type LabClient,
  type SquidProcess,
  type TestCertificate,
  type Upstream,
  type Workload,
  createTestCertificate,
  fetchClient,
  requireTool,
  runWorkload,
  startFaultProxy,
  startSquid,
  startUpstream,
} from '@staleguard/lab'
import { ProxyAgent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UNCOMPOSED_CLIENTS, recordingFailures } from './staleguard-clients.js'

/**
 * The stale-socket table through a real forward proxy. Between the app and squid sits a NAT that forgets
 * flows idle for more than NAT_IDLE_MS (the usual path from a pod to a corporate proxy), so pooled
 * connections to the proxy, and CONNECT tunnels through it, go stale; squid's own idle timeouts (1 s, its
 * smallest, for client connections; `read_timeout`, 4 s, for tunnels) are shorter than the client's keep-alive
 * (10 s here) too. Counted at the upstream, which sees squid's
 * outgoing address (127.0.0.2) on every proxied request.
 */
const SQUID_IDLE_S = 1
const SQUID_READ_TIMEOUT_S = 4
/**
 * Longer than the other labs' hops: a tunnelled TLS connection takes several round trips to come up, and a
 * loaded CI machine can stall the process (NAT included) long enough for a 300 ms NAT to reset a new flow.
 */
const NAT_IDLE_MS = 800
const GAP_MS = NAT_IDLE_MS + 100
const BURSTS = 4
const BURST_SIZE = 6

export interface SquidPath {
  readonly name: string
  readonly tls: boolean
  readonly tunnel: boolean
}

const squidBinary = requireTool('squid')

/** The table for one way through squid; one test file per path, so vitest runs them side by side. */
export function defineSquidSuite(path: SquidPath): void {
  describe.skipIf(squidBinary === null)(`through squid: ${path.name}`, () => {
    let certificate: TestCertificate
    let upstream: Upstream
    let squid: SquidProcess
    let nat: FaultProxy
    beforeAll(async () => {
      certificate = createTestCertificate()
      upstream = await startUpstream(path.tls ? { tls: certificate } : {})
      squid = await startSquid({
        binary: squidBinary as string,
        idleTimeoutSeconds: SQUID_IDLE_S,
        readTimeoutSeconds: SQUID_READ_TIMEOUT_S,
      })
      nat = await startFaultProxy({ port: squid.port }, { kind: 'rst-after-idle', idleMs: NAT_IDLE_MS })
    })
    afterAll(async () => {
      if (process.env.SQUID_DEBUG) console.log(await squid.cacheLog(), await squid.accessLog())
      await nat?.close()
      await squid?.close()
      await upstream?.close()
      certificate?.remove()
    })

    const hop = (gapMs: number) => ({ origin: upstream.origin, gapMs: () => gapMs })
    const proxy = () => ({ uri: nat.origin, proxyTunnel: path.tunnel })
    const options = (extra: StaleguardOptions = {}): StaleguardOptions => ({
      proxy: proxy(),
      connect: { ca: certificate.cert },
      ...extra,
    })
    // Each entry point without interceptors: the composed ones are proven direct, in the scenario table.
    const clients = UNCOMPOSED_CLIENTS.map((factory) => ({
      name: factory.name,
      make: (extra?: StaleguardOptions): LabClient => factory.make(options(extra)).client,
    }))
    /** Every request of a run reached the upstream from squid, none directly. */
    const allProxied = (prefix: string): boolean =>
      upstream.received.filter((r) => r.path.startsWith(prefix)).every((r) => r.remoteAddress === '127.0.0.2')

    it('plain fetch through undici ProxyAgent loses requests: the lab reproduces the bug', async () => {
      const agent = new ProxyAgent({ uri: nat.origin, proxyTunnel: path.tunnel, requestTls: { ca: certificate.cert } })
      const plain = fetchClient('plain fetch via ProxyAgent', ((url: string, init?: RequestInit) =>
        fetch(url, { ...init, dispatcher: agent } as unknown as RequestInit)) as typeof fetch)
      const result = await runWorkload(plain, hop(GAP_MS), upstream, {
        method: 'GET',
        shape: 'parallel',
        bursts: 4,
        burstSize: BURST_SIZE,
      })
      await agent.close()
      expect(result.lost).toBeGreaterThan(0)
    })

    for (const factory of clients) {
      describe(factory.name, () => {
        it.for<Workload>([
          { method: 'GET', shape: 'parallel', bursts: BURSTS, burstSize: BURST_SIZE },
          { method: 'PUT', shape: 'sequential', bursts: BURSTS, burstSize: BURST_SIZE },
          { method: 'POST', idempotencyKey: true, shape: 'parallel', bursts: BURSTS, burstSize: BURST_SIZE },
        ])('loses no $method across $bursts $shape bursts after the NAT forgot the flows', async (workload) => {
          const { client, failures } = recordingFailures(factory.make())
          const result = await runWorkload(client, hop(GAP_MS), upstream, workload)
          await client.close()
          expect(result.lost, failures.join('\n')).toBe(0)
          expect(result.duplicated).toBe(0)
          expect(result.delivered).toBe(result.sent)
          expect(upstream.received.every((r) => r.remoteAddress === '127.0.0.2')).toBe(true)
        })

        it('sends a POST without Idempotency-Key at most once, and explains each failure', async () => {
          const { client, errors } = recordingFailures(factory.make({ learnIdleLimit: false }))
          const result = await runWorkload(client, hop(GAP_MS), upstream, {
            method: 'POST',
            shape: 'sequential',
            bursts: BURSTS,
            burstSize: BURST_SIZE,
          })
          await client.close()
          expect(result.duplicated).toBe(0)
          expect(result.delivered + result.lost).toBe(result.sent)
          for (const error of errors) expect(getStaleguardDiagnostics(error)?.retryDecision).toBe('not-idempotent')
        })
      })
    }

    it("loses no GET when squid's own idle timeout closes what the client keeps", async () => {
      // A client connection idles out after client_idle_pconn_timeout, a tunnel after read_timeout; both are
      // checked on a 1 s tick. The client keeps sockets 10 s.
      const squidIdleMs = (path.tunnel ? SQUID_READ_TIMEOUT_S : SQUID_IDLE_S) * 1_000
      const { client, failures } = recordingFailures(clients[0]!.make({ keepAliveTimeout: 10_000 }))
      const result = await runWorkload(client, hop(squidIdleMs + 1_200), upstream, {
        method: 'GET',
        shape: 'parallel',
        bursts: path.tunnel ? 2 : 3,
        burstSize: BURST_SIZE,
      })
      await client.close()
      expect(result.lost, failures.join('\n')).toBe(0)
      expect(result.delivered).toBe(result.sent)
    })

    it('sends every request through the proxy, counted at squid and at the upstream', async () => {
      const before = (await squid.accessLog()).length
      const client = clients[0]!.make()
      const result = await runWorkload(client, hop(50), upstream, {
        method: 'GET',
        shape: 'sequential',
        bursts: 1,
        burstSize: 4,
      })
      await client.close()
      expect(result.lost).toBe(0)
      const prefix = upstream.received.at(-1)!.path.split('/').slice(0, 3).join('/')
      expect(allProxied(prefix)).toBe(true)
      const lines = (await squid.accessLog()).slice(before).filter((line) => line.status === 200)
      // A tunnel is logged once when it ends (after close): count the requests in absolute form only.
      if (!path.tunnel) expect(lines.filter((line) => line.url.includes(prefix)).length).toBe(result.sent)
      else expect(lines.every((line) => line.method === 'CONNECT')).toBe(true)
    })
  })
}
