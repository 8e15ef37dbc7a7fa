import http from 'node:http'
import {
  StaleguardHttpAgent,
  type StaleguardAgentOptions,
  type StaleguardStats,
  createHttpAgent,
  getStaleguardDiagnostics,
  installGlobalAgents,
} from '@staleguard/core'
import {
  HOP_IDLE_MS,
  type HopKind,
  type LabClient,
  type Upstream,
  type Workload,
  type WorkloadResult,
  runWorkload,
} from '@staleguard/lab'
import { type HopFixture, useHop, useUpstream } from '@staleguard/lab/vitest'
import { describe, expect, it, vi } from 'vitest'
import { type NodeHttpClientKind, nodeHttpClient } from './node-http-clients.js'

/**
 * staleguard's node:http agents under the clients that take one (axios, got, node-fetch v2, the AWS SDK,
 * node:http itself), behind the lab's hops: what reaches the upstream, counted there. The agent never sends a
 * request twice; the axios and got integrations send the one safe retry. Small workloads, run side by side:
 * this file runs on four Node versions.
 */

// Workloads mostly wait out idle gaps: eight at a time, so that the CPU bursts they do take leave the suite's
// other files (some count connections under steady load) a machine that is not starved.
vi.setConfig({ maxConcurrency: 8 })

const BURSTS = 6
const BURST_SIZE = 6

// Six at once after each idle gap, all six pooled sockets stale: one scouts, the others take new connections
// while it is out, so an idle gap costs at most one stale failure (lost by the agent alone, retried by an
// integration).
const GET_PARALLEL: Workload = { method: 'GET', shape: 'parallel', bursts: BURSTS, burstSize: BURST_SIZE }
const POST_SEQUENTIAL: Workload = { method: 'POST', shape: 'sequential', bursts: BURSTS, burstSize: BURST_SIZE }
const PUT_SEQUENTIAL: Workload = { method: 'PUT', shape: 'sequential', bursts: BURSTS, burstSize: BURST_SIZE }

interface Measured extends WorkloadResult {
  /** The staleguard agent's counters (null for Node's own agent). */
  readonly stats: StaleguardStats | null
  /** Each failure, one line: for the assertion messages. */
  readonly failures: readonly string[]
}

type Target = Pick<HopFixture, 'origin' | 'gapMs'>

/** Runs a workload through a fresh client on `agent`, and closes both. */
async function measure(
  kind: NodeHttpClientKind,
  agent: http.Agent,
  hop: Target,
  upstream: Pick<Upstream, 'received'>,
  workload: Workload,
): Promise<Measured> {
  const failures: string[] = []
  const made = nodeHttpClient(kind, agent)
  const client: LabClient = {
    ...made,
    send: (url, request) =>
      made.send(url, request).catch((error: unknown) => {
        failures.push(`${new URL(url).pathname}: ${describeError(error)}`)
        throw error
      }),
  }
  const result = await runWorkload(client, hop, upstream, workload)
  const stats = agent instanceof StaleguardHttpAgent ? agent.stats() : null
  await made.close()
  return { ...result, stats, failures }
}

/** The error, its causes, and what the agent said of it (its diagnostics, on the error or a cause). */
function describeError(error: unknown): string {
  const e = error as { name?: string; code?: string; message?: string; cause?: unknown } | null
  const diagnostics = getStaleguardDiagnostics(error)
  const said =
    diagnostics === undefined
      ? ''
      : ` [${diagnostics.retryDecision}, reused ${diagnostics.reused}, idle ${diagnostics.idleMs} ms, attempt ${diagnostics.attempt}]`
  const cause = e?.cause === undefined ? '' : ` (cause: ${describeError(e.cause)})`
  return `${e?.name ?? 'Error'} ${e?.code ?? ''} ${e?.message ?? String(error)}${said}${cause}`
}

/** The same workload through a staleguard agent and through Node's own keep-alive agent, side by side. */
async function beside(
  kind: NodeHttpClientKind,
  hop: Target,
  upstream: Pick<Upstream, 'received'>,
  workload: Workload,
  options?: StaleguardAgentOptions,
): Promise<{ ours: Measured; plain: Measured }> {
  const [ours, plain] = await Promise.all([
    measure(kind, createHttpAgent(options), hop, upstream, workload),
    measure(kind, new http.Agent({ keepAlive: true }), hop, upstream, workload),
  ])
  return { ours, plain }
}

function report(hopKind: string, label: string, ours: Measured, plain?: Measured): void {
  const counts = (m: Measured) => `lost ${m.lost}/${m.sent}, duplicated ${m.duplicated}, delivered ${m.delivered}`
  const stats = ours.stats
  const agent =
    stats === null
      ? ''
      : ` [staleFailures ${stats.staleFailures}, retries ${stats.retries}, retriesSucceeded ${stats.retriesSucceeded}, deniedByBudget ${stats.retriesDeniedByBudget}, socketsOpened ${stats.socketsOpened}]`
  console.log(
    `[node-http ${hopKind}] ${label}: staleguard ${counts(ours)}${agent}${plain ? ` | plain http.Agent ${counts(plain)}` : ''}`,
  )
}

/**
 * The agent alone, no integration: it never sends a request twice, so a GET on a stale socket is lost, but
 * only the first after a gap (it then closes the sockets idle as long, and learns the hop's limit), and each
 * loss is one it saw for what it is, a stale reused socket.
 */
function expectAgentAlone(ours: Measured): void {
  expect(ours.lost, ours.failures.join('\n')).toBeLessThanOrEqual(BURSTS)
  expect(ours.duplicated).toBe(0)
  expect(ours.stats!.staleFailures, `stale failures seen, of ${ours.lost} lost:\n${ours.failures.join('\n')}`).toBe(
    ours.lost,
  )
}

function defineFaultHopCases(kind: HopKind): void {
  describe.concurrent(`behind ${kind}`, () => {
    const upstream = useUpstream()
    const hop = useHop(kind, upstream)

    for (const client of ['axios + retryStaleSockets', 'got + retryStaleSockets'] as const) {
      it(`${client}: loses no GET`, async () => {
        const ours = await measure(client, createHttpAgent(), hop, upstream, GET_PARALLEL)
        report(kind, `${client} GET parallel`, ours)
        expect(ours.lost, ours.failures.join('\n')).toBe(0)
        expect(ours.delivered).toBe(ours.sent)
        expect(ours.stats!.retriesSucceeded).toBe(ours.stats!.retries)
      })

      it(`${client}: sends a POST without Idempotency-Key at most once`, async () => {
        const ours = await measure(client, createHttpAgent(), hop, upstream, POST_SEQUENTIAL)
        report(kind, `${client} POST sequential`, ours)
        expect(ours.duplicated).toBe(0)
        expect(ours.delivered + ours.lost).toBe(ours.sent)
        expect(ours.stats!.retries).toBe(0)
      })
    }

    for (const client of ['http.request', 'node-fetch', 'axios'] as const) {
      it(`${client} over the agent alone: at most one GET lost per idle gap`, async () => {
        const { ours, plain } = await beside(client, hop, upstream, GET_PARALLEL)
        report(kind, `${client} GET parallel`, ours, plain)
        expectAgentAlone(ours)
        // The lab reproduces the bug: Node's own agent reuses the stale socket after every gap.
        if (client === 'http.request') expect(plain.lost).toBeGreaterThan(0)
      })
    }

    it(`http.request over an agent told the hop's idle timeout (${HOP_IDLE_MS} ms): loses no GET`, async () => {
      const ours = await measure(
        'http.request',
        createHttpAgent({ upstreamIdleTimeout: HOP_IDLE_MS }),
        hop,
        upstream,
        GET_PARALLEL,
      )
      report(kind, `http.request GET parallel, upstreamIdleTimeout ${HOP_IDLE_MS}`, ours)
      expect(ours.lost, ours.failures.join('\n')).toBe(0)
    })

    it('S3Client GetObject loses nothing (the SDK retries by itself)', async () => {
      const { ours, plain } = await beside('S3Client', hop, upstream, GET_PARALLEL)
      report(kind, 'S3Client GetObject parallel', ours, plain)
      expect(ours.lost, ours.failures.join('\n')).toBe(0)
      expect(ours.delivered).toBe(ours.sent)
    })

    it('S3Client PutObject loses nothing (idempotent: the SDK may send it again)', async () => {
      const { ours, plain } = await beside('S3Client', hop, upstream, PUT_SEQUENTIAL)
      report(kind, 'S3Client PutObject sequential', ours, plain)
      expect(ours.lost, ours.failures.join('\n')).toBe(0)
      expect(ours.delivered).toBe(ours.sent)
    })
  })
}

function defineProxyHopCases(kind: HopKind): void {
  describe.concurrent(`behind ${kind}`, () => {
    const upstream = useUpstream()
    const hop = useHop(kind, upstream)

    it('http.request over the agent alone: at most one GET lost per idle gap', async (ctx) => {
      if (!hop.available) return ctx.skip()
      const { ours, plain } = await beside('http.request', hop, upstream, GET_PARALLEL)
      report(kind, 'http.request GET parallel', ours, plain)
      expectAgentAlone(ours)
    })

    it('axios + retryStaleSockets: loses no GET', async (ctx) => {
      if (!hop.available) return ctx.skip()
      const ours = await measure('axios + retryStaleSockets', createHttpAgent(), hop, upstream, GET_PARALLEL)
      report(kind, 'axios + retryStaleSockets GET parallel', ours)
      expect(ours.lost, ours.failures.join('\n')).toBe(0)
      expect(ours.delivered).toBe(ours.sent)
    })

    for (const client of ['http.request', 'axios + retryStaleSockets'] as const) {
      it(`${client}: sends a POST without Idempotency-Key at most once`, async (ctx) => {
        if (!hop.available) return ctx.skip()
        const ours = await measure(client, createHttpAgent(), hop, upstream, POST_SEQUENTIAL)
        report(kind, `${client} POST sequential`, ours)
        expect(ours.duplicated).toBe(0)
        expect(ours.delivered + ours.lost).toBe(ours.sent)
      })
    }
  })
}

defineFaultHopCases('fin-race')
defineFaultHopCases('silent-drop')
defineProxyHopCases('nginx')
defineProxyHopCases('haproxy')

describe.concurrent('connections under steady traffic, direct to the upstream', () => {
  const ourUpstream = useUpstream()
  const plainUpstream = useUpstream()
  const WORKERS = 4
  const PER_WORKER = 100

  /** WORKERS loops, each sending PER_WORKER GETs one after another: no idle gap anywhere. */
  async function steady(agent: http.Agent, upstream: Pick<Upstream, 'origin' | 'connections'>): Promise<number> {
    const client = nodeHttpClient('http.request', agent)
    let lost = 0
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        for (let i = 0; i < PER_WORKER; i++)
          await client.send(`${upstream.origin}/steady/${w}/${i}`).catch(() => lost++)
      }),
    )
    await client.close()
    expect(lost).toBe(0)
    return upstream.connections
  }

  it(`opens no more connections than Node's own keep-alive agent (${WORKERS * PER_WORKER} requests)`, async () => {
    const [ours, plain] = await Promise.all([
      steady(createHttpAgent(), ourUpstream),
      steady(new http.Agent({ keepAlive: true }), plainUpstream),
    ])
    console.log(`[node-http steady] connections: staleguard ${ours}, plain http.Agent ${plain}`)
    expect(ours).toBeLessThanOrEqual(plain * 1.1)
  })
})

describe('installGlobalAgents', () => {
  const upstream = useUpstream()

  const get = (path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      http
        .get(`${upstream.origin}${path}`, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            body += chunk
          })
          res.on('end', () => resolve(body))
          res.on('error', reject)
        })
        .on('error', reject)
    })

  it('takes http.get without an agent, and restore() puts the previous global agent back', async () => {
    const previous = http.globalAgent
    const installation = installGlobalAgents()
    try {
      expect(http.globalAgent).toBe(installation.httpAgent)
      await get('/global/1')
      await get('/global/2')
      expect(installation.httpAgent.stats().requests).toBe(2)
    } finally {
      installation.restore()
    }
    expect(http.globalAgent).toBe(previous)
    await get('/global/3')
    expect(installation.httpAgent.stats().requests).toBe(2)
    expect(upstream.count('GET', '/global/3')).toBe(1)
  })
})
