import autocannon from 'autocannon'
import { type Framework, askApp, pinToCpu, startBenchApp, startBenchUpstream } from './harness.js'

/** What V8's collector reported while an app served a fixed number of requests, per request. */
export interface GcCost {
  /** Bytes allocated per request (V8's sampling heap profiler, every 256 bytes on average). */
  readonly allocated: number
  /** Bytes moved into the old generation per request: objects that outlived a young-generation collection. */
  readonly promoted: number
  /** Time the main thread spent paused in the collector, µs per request (a time: it has the machine's noise). */
  readonly pauseMicros: number
  readonly scavenges: number
  readonly markCompacts: number
}

/** Sums V8's `--trace-gc-nvp` lines (one `key=value` line per collection). */
function sumCollections(lines: string, requests: number, allocatedPerRequest: number): GcCost {
  let promoted = 0
  let pause = 0
  let scavenges = 0
  let markCompacts = 0
  for (const line of lines.split('\n')) {
    const kind = /\bgc=(\w+)/.exec(line)?.[1]
    if (kind === undefined) continue
    const field = (name: string): number => Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? 0)
    promoted += field('promoted')
    pause += field('pause')
    if (kind === 's') scavenges++
    else markCompacts++
  }
  return {
    allocated: allocatedPerRequest,
    promoted: promoted / requests,
    pauseMicros: (pause * 1000) / requests,
    scavenges,
    markCompacts,
  }
}

const isSamplingReply = (reply: unknown): reply is { allocation: string; bytes?: number } =>
  typeof (reply as { allocation?: unknown } | null)?.allocation === 'string'

/**
 * Serves `requests` requests (after a warm-up) from one app process running under `--trace-gc-nvp`, and
 * reads what the collector did meanwhile; then as many again under V8's sampling heap profiler, for the bytes. Unlike throughput, bytes allocated and promoted per request hardly
 * depend on what else the machine is doing: they show a per-request cost even where timings cannot.
 */
async function gcCostOf(
  framework: Framework,
  variant: 'bare' | 'staleguard',
  upstream: string,
  requests: number,
): Promise<GcCost> {
  const app = await startBenchApp(framework, variant, upstream, ['--trace-gc-nvp'])
  const url = `${app.origin}/items`
  try {
    await autocannon({ url, connections: 32, amount: Math.min(5_000, requests) })
    const served = async (): Promise<number> => {
      const result = await autocannon({ url, connections: 32, amount: requests })
      if (result.errors > 0 || result.non2xx > 0)
        throw new Error(`${framework} ${variant}: ${result.errors} errors, ${result.non2xx} non-2xx responses`)
      return result.requests.total
    }
    // Two passes: the profiler keeps what it samples alive a little longer, which would skew promotion.
    app.takeOutput()
    const collected = await served()
    const collections = app.takeOutput()
    await askApp(app.child, 'allocation-start', isSamplingReply)
    const sampled = await served()
    const { bytes = 0 } = await askApp(app.child, 'allocation-stop', isSamplingReply)
    return sumCollections(collections, collected, bytes / sampled)
  } finally {
    app.child.disconnect()
  }
}

/**
 * Per framework, the route calling the upstream through bare fetch and through the scoped fetch: bytes
 * allocated and promoted per request, and the collector's pause time. A leak or a retention shows here as
 * promoted bytes long before it shows in requests per second.
 */
export async function benchAllocation(options: {
  requests: number
  frameworks: readonly Framework[]
}): Promise<Partial<Record<Framework, { bare: GcCost; staleguard: GcCost }>>> {
  const { origin: upstream, child: upstreamProcess } = await startBenchUpstream()
  pinToCpu(process.pid, 1)
  const results: Partial<Record<Framework, { bare: GcCost; staleguard: GcCost }>> = {}
  console.log(
    `\nallocation: ${options.requests} requests per app after a warm-up (autocannon, 32 connections), V8's sampling heap profiler and --trace-gc-nvp`,
  )
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
  try {
    for (const framework of options.frameworks) {
      const bare = await gcCostOf(framework, 'bare', upstream, options.requests)
      const staleguard = await gcCostOf(framework, 'staleguard', upstream, options.requests)
      results[framework] = { bare, staleguard }
      for (const [label, cost] of [
        ['bare fetch + Agent', bare],
        ['scoped fetch', staleguard],
      ] as const) {
        console.log(
          `  ${framework.padEnd(8)} ${label.padEnd(18)} allocated ${kb(cost.allocated).padStart(8)}, promoted ${kb(cost.promoted).padStart(7)} per request; GC pause ${cost.pauseMicros.toFixed(1).padStart(5)} µs per request (${cost.scavenges} scavenges, ${cost.markCompacts} full)`,
        )
      }
    }
  } finally {
    upstreamProcess.disconnect()
  }
  return results
}
