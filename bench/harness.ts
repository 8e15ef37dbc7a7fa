import { type ChildProcess, fork, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

/**
 * Pins a process to one CPU when the machine has two or more and `taskset` exists: the measured client on
 * CPU 0, the upstream (and load generator) on CPU 1, so they stop trading places between rounds. All of a
 * process's threads (`-a`): pinning only the main thread left V8's GC helpers free to run on the load
 * generator's CPU, where an app that allocates more slowed the load instead of itself.
 */
export function pinToCpu(pid: number, cpu: number): boolean {
  if (os.cpus().length < 2) return false
  return spawnSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0
}

/** Starts the benchmark upstream in a child process and resolves with its origin. */
export async function startBenchUpstream(): Promise<{ origin: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(new URL('./upstream-server.mjs', import.meta.url)), {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer]
  if (child.pid !== undefined) pinToCpu(child.pid, 1)
  return { origin: `http://127.0.0.1:${chunk.toString().trim()}`, child }
}

export type Framework = 'fastify' | 'express' | 'koa'

/** One benchmark app (`app-server.ts`) in its own process. */
export interface BenchApp {
  readonly origin: string
  readonly child: ChildProcess
  /** What the app printed on stdout since the last call (V8 traces, when `execArgv` asks for them). */
  takeOutput(): string
}

/** Node and V8 flags for every app process (`BENCH_APP_FLAGS='--max-opt=2'`), to ask where a gap comes from. */
const appFlags = (): string[] => (process.env.BENCH_APP_FLAGS ?? '').split(' ').filter((flag) => flag !== '')

/**
 * Starts `app-server.ts` for a framework and variant, pinned to CPU 0 (the upstream and autocannon share
 * CPU 1). Its stdout is collected: the first line that is a number is its port.
 */
export async function startBenchApp(
  framework: Framework,
  variant: string,
  upstream: string,
  execArgv: readonly string[] = [],
): Promise<BenchApp> {
  const child = fork(fileURLToPath(new URL('./app-server.ts', import.meta.url)), [framework, variant, upstream], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    execArgv: [...execArgv, ...appFlags(), '--import', 'tsx'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  while (!/^\d+$/m.test(output)) await once(child.stdout!, 'data')
  if (child.pid !== undefined) pinToCpu(child.pid, 0)
  const port = /^(\d+)$/m.exec(output)![1]
  output = ''
  return {
    origin: `http://127.0.0.1:${port}`,
    child,
    takeOutput() {
      const taken = output
      output = ''
      return taken
    },
  }
}

/** Sends an app a message over IPC and resolves with its first reply that `isReply` accepts. */
export function askApp<T>(child: ChildProcess, message: string, isReply: (reply: unknown) => reply is T): Promise<T> {
  const reply = new Promise<T>((resolve) => {
    const onMessage = (candidate: unknown): void => {
      if (!isReply(candidate)) return
      child.off('message', onMessage)
      resolve(candidate)
    }
    child.on('message', onMessage)
  })
  child.send(message)
  return reply
}

export interface Sample {
  /** Requests per second, wall clock. */
  readonly rate: number
  /** CPU time this process spent per request (user + system), µs: less sensitive to neighbours than the rate. */
  readonly cpuMicros: number
}

/** Throughput and CPU cost of `total` calls of `send`, `inFlight` at a time. */
export async function throughput(send: () => Promise<unknown>, total: number, inFlight: number): Promise<Sample> {
  let next = 0
  const started = performance.now()
  const cpu = process.cpuUsage()
  const worker = async (): Promise<void> => {
    while (next++ < total) await send()
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const used = process.cpuUsage(cpu)
  return { rate: total / ((performance.now() - started) / 1000), cpuMicros: (used.user + used.system) / total }
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export interface Contender {
  readonly name: string
  readonly send: () => Promise<unknown>
}

/** The middle half of a list: the spread worth reporting next to a median. */
export function quartiles(values: readonly number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b)
  return [sorted[Math.floor((sorted.length - 1) * 0.25)]!, sorted[Math.ceil((sorted.length - 1) * 0.75)]!]
}

/**
 * Runs the contenders in pairs of back-to-back rounds (A B, then B A, …). The machine drifts (other
 * tenants, CPU clocks) more between pairs than within one, so the figure reported is the median of the
 * per-pair ratios, with its interquartile range; the medians of each side are shown too.
 */
export async function compare(
  title: string,
  contenders: readonly [Contender, Contender],
  options: { rounds: number; perRound: number; inFlight: number },
): Promise<{ medians: [number, number]; ratio: number; cpuRatio: number }> {
  const samples: [Sample[], Sample[]] = [[], []]
  for (const c of contenders) await throughput(c.send, Math.min(1_000, options.perRound), options.inFlight) // warm-up
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0]
    for (const i of order)
      samples[i as 0 | 1].push(await throughput(contenders[i as 0 | 1].send, options.perRound, options.inFlight))
  }
  const rateRatios = samples[1].map((s, i) => s.rate / samples[0][i]!.rate)
  const cpuRatios = samples[1].map((s, i) => samples[0][i]!.cpuMicros / s.cpuMicros)
  const medians: [number, number] = [median(samples[0].map((s) => s.rate)), median(samples[1].map((s) => s.rate))]
  const cpu: [number, number] = [median(samples[0].map((s) => s.cpuMicros)), median(samples[1].map((s) => s.cpuMicros))]
  const ratio = median(rateRatios)
  const cpuRatio = median(cpuRatios)
  const [rLow, rHigh] = quartiles(rateRatios)
  const [cLow, cHigh] = quartiles(cpuRatios)
  console.log(
    `\n${title}  (${options.rounds} paired rounds × ${options.perRound} requests, ${options.inFlight} in flight)`,
  )
  for (const [i, c] of contenders.entries()) {
    console.log(
      `  ${c.name.padEnd(36)} median ${medians[i]!.toFixed(0).padStart(6)} req/s, ${cpu[i]!.toFixed(1).padStart(6)} µs CPU/request`,
    )
  }
  console.log(
    `  ${contenders[1].name} / ${contenders[0].name}: ${ratio.toFixed(3)} by req/s (IQR ${rLow.toFixed(3)}–${rHigh.toFixed(3)}), ${cpuRatio.toFixed(3)} by CPU per request (IQR ${cLow.toFixed(3)}–${cHigh.toFixed(3)})`,
  )
  return { medians, ratio, cpuRatio }
}
