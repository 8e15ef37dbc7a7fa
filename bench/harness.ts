import { type ChildProcess, fork, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

/**
 * Pins a process to one CPU when the machine has two or more and `taskset` exists: the measured client on
 * CPU 0, the upstream (and load generator) on CPU 1, so they stop trading places between rounds.
 */
export function pinToCpu(pid: number, cpu: number): boolean {
  if (os.cpus().length < 2) return false
  return spawnSync('taskset', ['-pc', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0
}

/** Starts the benchmark upstream in a child process and resolves with its origin. */
export async function startBenchUpstream(): Promise<{ origin: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(new URL('./upstream-server.mjs', import.meta.url)), { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer]
  if (child.pid !== undefined) pinToCpu(child.pid, 1)
  return { origin: `http://127.0.0.1:${chunk.toString().trim()}`, child }
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

/**
 * Runs the contenders in alternating rounds (A B, then B A, …) so drift in the machine's state hits both
 * alike; reports each one's median rate and CPU per request, and the ratio of the second to the first.
 */
export async function compare(title: string, contenders: readonly [Contender, Contender], options: { rounds: number; perRound: number; inFlight: number }): Promise<{ medians: [number, number]; ratio: number; cpuRatio: number }> {
  const samples: [Sample[], Sample[]] = [[], []]
  for (const c of contenders) await throughput(c.send, Math.min(1_000, options.perRound), options.inFlight) // warm-up
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0]
    for (const i of order) samples[i as 0 | 1].push(await throughput(contenders[i as 0 | 1].send, options.perRound, options.inFlight))
  }
  const medians: [number, number] = [median(samples[0].map((s) => s.rate)), median(samples[1].map((s) => s.rate))]
  const cpu: [number, number] = [median(samples[0].map((s) => s.cpuMicros)), median(samples[1].map((s) => s.cpuMicros))]
  const ratio = medians[1] / medians[0]
  const cpuRatio = cpu[0] / cpu[1]
  console.log(`\n${title}  (${options.rounds} alternating rounds × ${options.perRound} requests, ${options.inFlight} in flight)`)
  for (const [i, c] of contenders.entries()) {
    console.log(`  ${c.name.padEnd(36)} median ${medians[i]!.toFixed(0).padStart(6)} req/s, ${cpu[i]!.toFixed(1).padStart(6)} µs CPU/request   rounds: ${samples[i]!.map((s) => s.rate.toFixed(0)).join(' ')}`)
  }
  console.log(`  ratio ${contenders[1].name} / ${contenders[0].name}: ${ratio.toFixed(3)} by req/s, ${cpuRatio.toFixed(3)} by CPU per request`)
  return { medians, ratio, cpuRatio }
}
