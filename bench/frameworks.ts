import autocannon from 'autocannon'
import { type BenchApp, type Framework, askApp, median, pinToCpu, startBenchApp, startBenchUpstream } from './harness.js'

const isCpuReply = (reply: unknown): reply is { cpu: number } => typeof (reply as { cpu?: unknown } | null)?.cpu === 'number'

async function cpuOf(app: BenchApp): Promise<number> {
  return (await askApp(app.child, 'cpu', isCpuReply)).cpu
}

/** One autocannon run against an app: requests per second, and the app's CPU µs per request. */
async function load(app: BenchApp, seconds: number): Promise<{ rate: number; cpuMicros: number }> {
  const before = await cpuOf(app)
  const result = await autocannon({ url: `${app.origin}/items`, connections: 32, duration: seconds })
  const cpu = (await cpuOf(app)) - before
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${app.origin}: ${result.errors} errors, ${result.non2xx} non-2xx responses`)
  return { rate: result.requests.average, cpuMicros: cpu / result.requests.total }
}

interface PairedRatios {
  readonly rate: number
  readonly cpu: number
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

/** Both apps of a trial, started fresh; which one starts first alternates too, so neither side always gets the first (or the later) start. */
async function startPair(a: Contestant, b: Contestant, upstream: string, trialIndex: number): Promise<readonly [BenchApp, BenchApp]> {
  const [first, second] = trialIndex % 2 === 0 ? [a, b] : [b, a]
  const started = new Map<Contestant, BenchApp>()
  started.set(first, await startBenchApp(first.framework, first.variant, upstream))
  started.set(second, await startBenchApp(second.framework, second.variant, upstream))
  return [started.get(a)!, started.get(b)!]
}

const listRatios = (values: readonly number[]): string => values.map((v) => v.toFixed(3)).join(' ')

/** One trial: both apps started fresh, then alternating autocannon runs; the medians of per-pair ratios (b over a). */
async function trial(a: Contestant, b: Contestant, upstream: string, trialIndex: number, options: FrameworkBenchOptions): Promise<PairedRatios> {
  const [appA, appB] = await startPair(a, b, upstream, trialIndex)
  const apps = { a: appA, b: appB }
  try {
    await load(apps.a, options.warmup)
    await load(apps.b, options.warmup)
    const samples = { a: [] as { rate: number; cpuMicros: number }[], b: [] as { rate: number; cpuMicros: number }[] }
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)
      for (const which of order) samples[which].push(await load(apps[which], options.seconds))
    }
    return {
      rate: median(samples.b.map((s, i) => s.rate / samples.a[i]!.rate)),
      cpu: median(samples.b.map((s, i) => samples.a[i]!.cpuMicros / s.cpuMicros)),
    }
  } finally {
    apps.a.child.disconnect()
    apps.b.child.disconnect()
  }
}

/**
 * One shared-CPU trial: both apps started fresh, pinned to the same CPU, and loaded at the same time by two
 * autocannon runs. The kernel gives two busy processes on one CPU equal time, so the ratio of what they
 * serve is the inverse ratio of their CPU per request; and whatever the machine does meanwhile (a
 * neighbour, frequency) hits both alike, where alternating rounds see it only on one side. The per-round
 * ratios (b over a), for the caller to pool.
 */
async function sharedTrial(a: Contestant, b: Contestant, upstream: string, trialIndex: number, warmup: number): Promise<PairedRatios[]> {
  const apps = await startPair(a, b, upstream, trialIndex)
  try {
    const both = async (seconds: number) => {
      const [ra, rb] = await Promise.all([load(apps[0], seconds), load(apps[1], seconds)])
      return { rate: rb.rate / ra.rate, cpu: ra.cpuMicros / rb.cpuMicros }
    }
    await both(warmup)
    const ratios: PairedRatios[] = []
    for (let round = 0; round < SHARED_ROUNDS; round++) ratios.push(await both(SHARED_SECONDS))
    return ratios
  } finally {
    apps[0].child.disconnect()
    apps[1].child.disconnect()
  }
}

async function compareShared(title: string, a: Contestant, b: Contestant, upstream: string, options: FrameworkBenchOptions): Promise<PairedRatios> {
  const trials: PairedRatios[][] = []
  for (let i = 0; i < options.sharedTrials; i++) trials.push(await sharedTrial(a, b, upstream, i, options.warmup))
  const rounds = trials.flat()
  const ratios = { rate: median(rounds.map((r) => r.rate)), cpu: median(rounds.map((r) => r.cpu)) }
  console.log(`\n${title}, both loaded at once on one CPU  (${options.sharedTrials} trials × ${SHARED_ROUNDS} rounds × ${SHARED_SECONDS} s, 32 connections each)`)
  console.log(`  ${b.label} / ${a.label}: ${ratios.rate.toFixed(3)} by req/s (trial medians: ${listRatios(trials.map((t) => median(t.map((r) => r.rate))))}), ${ratios.cpu.toFixed(3)} by app CPU per request`)
  return ratios
}

/** A comparison both ways: alternating rounds (each app alone on its CPU) and shared-CPU rounds. */
export interface FrameworkRatios {
  readonly alternating: PairedRatios
  /** Null when `sharedTrials` is 0. */
  readonly shared: PairedRatios | null
}

async function compareBothWays(title: string, a: Contestant, b: Contestant, upstream: string, options: FrameworkBenchOptions): Promise<FrameworkRatios> {
  const alternating = await comparePaired(title, a, b, upstream, options)
  const shared = options.sharedTrials > 0 ? await compareShared(title, a, b, upstream, options) : null
  return { alternating, shared }
}

/**
 * Two apps compared over several trials, each with a fresh pair of processes: within a trial the paired
 * rounds cancel the machine's drift, and across trials what still moves two identical processes apart
 * (±3–6 % from trial to trial, with or without address-space randomization) averages out.
 */
async function comparePaired(title: string, a: Contestant, b: Contestant, upstream: string, options: FrameworkBenchOptions): Promise<PairedRatios> {
  const trials: PairedRatios[] = []
  for (let i = 0; i < options.trials; i++) trials.push(await trial(a, b, upstream, i, options))
  const ratios = { rate: median(trials.map((t) => t.rate)), cpu: median(trials.map((t) => t.cpu)) }
  console.log(`\n${title}  (autocannon, 32 connections; ${options.trials} trials × ${options.rounds} paired rounds × ${options.seconds} s after ${options.warmup} s of warm-up)`)
  console.log(`  ${b.label} / ${a.label}: ${ratios.rate.toFixed(3)} by req/s (trials: ${listRatios(trials.map((t) => t.rate))}), ${ratios.cpu.toFixed(3)} by app CPU per request (trials: ${listRatios(trials.map((t) => t.cpu))})`)
  return ratios
}

/**
 * For each framework, the same route calling the upstream through the scoped fetch and through bare
 * fetch with an equivalent Agent, each app in its own process, autocannon alternating between them.
 * First, the same comparison between two identical bare Fastify apps: that ratio should be 1, and how far
 * it lands from 1 is the noise floor of the others on this machine.
 */
export async function benchFrameworks(options: FrameworkBenchOptions & { frameworks?: readonly Framework[] }): Promise<{ noise: FrameworkRatios; frameworks: Partial<Record<Framework, FrameworkRatios>> }> {
  const { origin: upstream, child: upstreamProcess } = await startBenchUpstream()
  pinToCpu(process.pid, 1)
  const noise = await compareBothWays('noise floor: two identical bare Fastify apps', { label: 'bare app', framework: 'fastify', variant: 'bare' }, { label: 'its twin', framework: 'fastify', variant: 'bare' }, upstream, options)
  const frameworks: Partial<Record<Framework, FrameworkRatios>> = {}
  for (const framework of options.frameworks ?? (['fastify', 'express', 'koa'] as const)) {
    const accessor = framework === 'fastify' ? 'request.fetch' : framework === 'express' ? 'req.fetch' : 'ctx.fetch'
    frameworks[framework] = await compareBothWays(`${framework}: route calling upstream`, { label: 'bare fetch + Agent', framework, variant: 'bare' }, { label: accessor, framework, variant: 'staleguard' }, upstream, options)
  }
  upstreamProcess.disconnect()
  return { noise, frameworks }
}
