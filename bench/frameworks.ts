import autocannon from 'autocannon'
import {
  type BenchApp,
  type Framework,
  askApp,
  median,
  pinToCpu,
  startBenchApp,
  startBenchUpstream,
} from './harness.js'

const isCpuReply = (reply: unknown): reply is { cpu: number } =>
  typeof (reply as { cpu?: unknown } | null)?.cpu === 'number'

async function cpuOf(app: BenchApp): Promise<number> {
  return (await askApp(app.child, 'cpu', isCpuReply)).cpu
}

interface LoadResult {
  readonly rate: number
  readonly cpuMicros: number
}

/** One autocannon run against an app: requests per second, and the app's CPU µs per request. */
async function load(app: BenchApp, seconds: number): Promise<LoadResult> {
  const before = await cpuOf(app)
  const result = await autocannon({ url: `${app.origin}/items`, connections: 32, duration: seconds })
  const cpu = (await cpuOf(app)) - before
  if (result.errors > 0 || result.non2xx > 0)
    throw new Error(`${app.origin}: ${result.errors} errors, ${result.non2xx} non-2xx responses`)
  return { rate: result.requests.average, cpuMicros: cpu / result.requests.total }
}

interface PairedRatios {
  readonly rate: number
  readonly cpu: number
  /** B's app CPU per request minus A's, in µs: what B adds to (or takes from) each request, whatever the framework. */
  readonly addedCpuMicros: number
}

/** How long a comparison runs: trials of fresh process pairs, each app warmed up, then paired rounds. */
export interface FrameworkBenchOptions {
  readonly trials: number
  readonly rounds: number
  readonly seconds: number
  /** Seconds of load each app gets before its first measured round, for the JIT to finish optimizing the route. */
  readonly warmup: number
  /** Trials of the shared-CPU comparison (both apps under load at once); 0 skips it. */
  readonly sharedTrials: number
}

/** Rounds and their length in the shared-CPU comparison: both apps are loaded in every round, so fewer, longer ones do. */
const SHARED_ROUNDS = 5
const SHARED_SECONDS = 2

interface Contestant {
  readonly label: string
  readonly framework: Framework
  readonly variant: string
}

/**
 * Runs `measure` on both apps of a trial, started fresh and stopped after; which one starts first
 * alternates too, so neither side always gets the first (or the later) start.
 */
async function withPair<T>(
  a: Contestant,
  b: Contestant,
  upstream: string,
  trialIndex: number,
  measure: (appA: BenchApp, appB: BenchApp) => Promise<T>,
): Promise<T> {
  const [first, second] = trialIndex % 2 === 0 ? [a, b] : [b, a]
  const started = new Map<Contestant, BenchApp>()
  try {
    started.set(first, await startBenchApp(first.framework, first.variant, upstream))
    started.set(second, await startBenchApp(second.framework, second.variant, upstream))
    return await measure(started.get(a)!, started.get(b)!)
  } finally {
    for (const app of started.values()) app.child.disconnect()
  }
}

/** B against A in one round: requests per second of B over A's, CPU per request of A over B's (higher is better for B). */
const ratioOf = (ra: LoadResult, rb: LoadResult): PairedRatios => ({
  rate: rb.rate / ra.rate,
  cpu: ra.cpuMicros / rb.cpuMicros,
  addedCpuMicros: rb.cpuMicros - ra.cpuMicros,
})

/** The median of each figure over a list of ratios. */
const mediansOf = (ratios: readonly PairedRatios[]): PairedRatios => ({
  rate: median(ratios.map((r) => r.rate)),
  cpu: median(ratios.map((r) => r.cpu)),
  addedCpuMicros: median(ratios.map((r) => r.addedCpuMicros)),
})

const signed = (micros: number): string => `${micros >= 0 ? '+' : ''}${micros.toFixed(1)}`

const listRatios = (values: readonly number[]): string => values.map((v) => v.toFixed(3)).join(' ')

/** One trial: both apps started fresh, then alternating autocannon runs; the medians of per-pair ratios (b over a). */
async function trial(
  a: Contestant,
  b: Contestant,
  upstream: string,
  trialIndex: number,
  options: FrameworkBenchOptions,
): Promise<PairedRatios> {
  return withPair(a, b, upstream, trialIndex, async (appA, appB) => {
    await load(appA, options.warmup)
    await load(appB, options.warmup)
    const pairs: PairedRatios[] = []
    for (let round = 0; round < options.rounds; round++) {
      // A B, then B A: neither side always runs first in a pair.
      if (round % 2 === 0) {
        const ra = await load(appA, options.seconds)
        pairs.push(ratioOf(ra, await load(appB, options.seconds)))
      } else {
        const rb = await load(appB, options.seconds)
        pairs.push(ratioOf(await load(appA, options.seconds), rb))
      }
    }
    return mediansOf(pairs)
  })
}

/**
 * One shared-CPU trial: both apps started fresh, pinned to the same CPU, and loaded at the same time by two
 * autocannon runs. The kernel gives two busy processes on one CPU equal time, so the ratio of what they
 * serve is the inverse ratio of their CPU per request; and whatever the machine does meanwhile (a
 * neighbour, frequency) hits both alike, where alternating rounds see it only on one side. The per-round
 * ratios (b over a), for the caller to pool.
 */
async function sharedTrial(
  a: Contestant,
  b: Contestant,
  upstream: string,
  trialIndex: number,
  warmup: number,
): Promise<PairedRatios[]> {
  return withPair(a, b, upstream, trialIndex, async (appA, appB) => {
    const both = async (seconds: number) => {
      const [ra, rb] = await Promise.all([load(appA, seconds), load(appB, seconds)])
      return ratioOf(ra, rb)
    }
    await both(warmup)
    const ratios: PairedRatios[] = []
    for (let round = 0; round < SHARED_ROUNDS; round++) ratios.push(await both(SHARED_SECONDS))
    return ratios
  })
}

async function compareShared(
  title: string,
  a: Contestant,
  b: Contestant,
  upstream: string,
  options: FrameworkBenchOptions,
): Promise<PairedRatios> {
  const trials: PairedRatios[][] = []
  for (let i = 0; i < options.sharedTrials; i++) trials.push(await sharedTrial(a, b, upstream, i, options.warmup))
  const ratios = mediansOf(trials.flat())
  console.log(
    `\n${title}, both loaded at once on one CPU  (${options.sharedTrials} trials × ${SHARED_ROUNDS} rounds × ${SHARED_SECONDS} s, 32 connections each)`,
  )
  console.log(
    `  ${b.label} / ${a.label}: ${ratios.rate.toFixed(3)} by req/s (trial medians: ${listRatios(trials.map((t) => mediansOf(t).rate))}), ${ratios.cpu.toFixed(3)} by app CPU per request; ${signed(ratios.addedCpuMicros)} µs CPU per request`,
  )
  return ratios
}

/** A comparison both ways: alternating rounds (each app alone on its CPU) and shared-CPU rounds. */
export interface FrameworkRatios {
  readonly alternating: PairedRatios
  /** Null when `sharedTrials` is 0. */
  readonly shared: PairedRatios | null
}

async function compareBothWays(
  title: string,
  a: Contestant,
  b: Contestant,
  upstream: string,
  options: FrameworkBenchOptions,
): Promise<FrameworkRatios> {
  const alternating = await comparePaired(title, a, b, upstream, options)
  const shared = options.sharedTrials > 0 ? await compareShared(title, a, b, upstream, options) : null
  return { alternating, shared }
}

/**
 * Two apps compared over several trials, each with a fresh pair of processes: within a trial the paired
 * rounds cancel the machine's drift, and across trials what still moves two identical processes apart
 * (±3–6 % from trial to trial, with or without address-space randomization) averages out.
 */
async function comparePaired(
  title: string,
  a: Contestant,
  b: Contestant,
  upstream: string,
  options: FrameworkBenchOptions,
): Promise<PairedRatios> {
  const trials: PairedRatios[] = []
  for (let i = 0; i < options.trials; i++) trials.push(await trial(a, b, upstream, i, options))
  const ratios = mediansOf(trials)
  console.log(
    `\n${title}  (autocannon, 32 connections; ${options.trials} trials × ${options.rounds} paired rounds × ${options.seconds} s after ${options.warmup} s of warm-up)`,
  )
  console.log(
    `  ${b.label} / ${a.label}: ${ratios.rate.toFixed(3)} by req/s (trials: ${listRatios(trials.map((t) => t.rate))}), ${ratios.cpu.toFixed(3)} by app CPU per request (trials: ${listRatios(trials.map((t) => t.cpu))}); ${signed(ratios.addedCpuMicros)} µs CPU per request`,
  )
  return ratios
}

/** The targets for the scoped route (scoped over peer, by req/s and by CPU per request). */
export const FRAMEWORK_TARGETS = {
  /** The same features written by hand (AbortController, x-request-id, a retry loop): the scoped route is to beat it. */
  handWritten: 1.05,
  /** The route with none of the features: what they cost, at most. */
  bare: 0.9,
} as const

export type FrameworkPeer = keyof typeof FRAMEWORK_TARGETS

/** Each framework's scoped route against each peer route that was measured. */
export type FrameworkPeerRatios = Partial<Record<FrameworkPeer, FrameworkRatios>>

const PEER_CONTESTANTS: Record<FrameworkPeer, { readonly label: string; readonly variant: string }> = {
  handWritten: { label: 'hand-written fetch + Agent', variant: 'hand-written' },
  bare: { label: 'bare fetch + Agent', variant: 'bare' },
}

/** `BENCH_PEERS=handWritten` (or `bare`) measures one peer route only, to keep a run short. */
const peersToMeasure = (): FrameworkPeer[] => {
  const chosen = (process.env.BENCH_PEERS ?? 'handWritten,bare').split(',') as FrameworkPeer[]
  const unknown = chosen.filter((peer) => !(peer in FRAMEWORK_TARGETS))
  if (unknown.length) throw new Error(`unknown BENCH_PEERS ${unknown.join(', ')}; choose from handWritten, bare`)
  return chosen
}

/**
 * For each framework, the same route calling the upstream through the scoped fetch and through each peer:
 * the hand-written route (fetch with an equivalent Agent and the scoped route's features written by hand:
 * an AbortController for disconnects, the request id forwarded, a retry loop for ECONNRESET) and the bare
 * route (fetch with that Agent and nothing else). Each app in its own process: autocannon alternating
 * between them, then (unless `sharedTrials` is 0) loading both at once on one CPU. First, the same
 * comparisons between two identical bare Fastify apps: their ratios should be 1, and how far they land from
 * 1 is the noise floor of the others on this machine. `frameworks` holds the comparisons with the bare
 * route, `peers` every comparison.
 */
export async function benchFrameworks(options: FrameworkBenchOptions & { frameworks?: readonly Framework[] }): Promise<{
  noise: FrameworkRatios
  frameworks: Partial<Record<Framework, FrameworkRatios>>
  peers: Partial<Record<Framework, FrameworkPeerRatios>>
}> {
  const peers = peersToMeasure()
  const { origin: upstream, child: upstreamProcess } = await startBenchUpstream()
  pinToCpu(process.pid, 1)
  const noise = await compareBothWays(
    'noise floor: two identical bare Fastify apps',
    { label: 'bare app', framework: 'fastify', variant: 'bare' },
    { label: 'its twin', framework: 'fastify', variant: 'bare' },
    upstream,
    options,
  )
  const frameworks: Partial<Record<Framework, FrameworkRatios>> = {}
  const measured: Partial<Record<Framework, FrameworkPeerRatios>> = {}
  for (const framework of options.frameworks ?? (['fastify', 'express', 'koa'] as const)) {
    const accessor = framework === 'fastify' ? 'request.fetch' : framework === 'express' ? 'req.fetch' : 'ctx.fetch'
    const ratios: FrameworkPeerRatios = {}
    for (const peer of peers) {
      const { label, variant } = PEER_CONTESTANTS[peer]
      ratios[peer] = await compareBothWays(
        `${framework}: route calling upstream, scoped against ${label}`,
        { label, framework, variant },
        { label: accessor, framework, variant: 'staleguard' },
        upstream,
        options,
      )
    }
    measured[framework] = ratios
    if (ratios.bare) frameworks[framework] = ratios.bare
  }
  upstreamProcess.disconnect()
  printTargets(noise, measured)
  return { noise, frameworks, peers: measured }
}

/** Every scoped-route figure against its target, and by how much it misses when it does. */
function printTargets(noise: FrameworkRatios, measured: Partial<Record<Framework, FrameworkPeerRatios>>): void {
  const verdict = (value: number, target: number) => {
    const miss = ((target - value) / target) * 100
    // 1.0498 prints as 1.050: say that it is short, not that it is short by 0.0 %.
    return miss <= 0 ? 'met' : `missed by ${miss < 0.1 ? '< 0.1' : miss.toFixed(1)} %`
  }
  const noiseFloor = `noise floor ${noise.alternating.rate.toFixed(3)}${noise.shared ? ` / ${noise.shared.rate.toFixed(3)} sharing one CPU` : ''}`
  console.log(
    `
scoped route against its targets (≥ ${FRAMEWORK_TARGETS.handWritten} × hand-written, ≥ ${FRAMEWORK_TARGETS.bare} × bare; by req/s, alternating / sharing one CPU; ${noiseFloor})`,
  )
  for (const [framework, ratios] of Object.entries(measured)) {
    for (const [peer, ratio] of Object.entries(ratios) as [FrameworkPeer, FrameworkRatios][]) {
      const target = FRAMEWORK_TARGETS[peer]
      const figures = [ratio.alternating.rate, ...(ratio.shared ? [ratio.shared.rate] : [])]
      const added = [ratio.alternating, ...(ratio.shared ? [ratio.shared] : [])].map((r) => signed(r.addedCpuMicros))
      console.log(
        `  ${framework.padEnd(8)} / ${PEER_CONTESTANTS[peer].label.padEnd(27)} ${figures.map((v) => `${v.toFixed(3)} (${verdict(v, target)})`).join(' / ')}; CPU per request ${added.join(' / ')} µs`,
      )
    }
  }
}
