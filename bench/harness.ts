import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** Starts the benchmark upstream in a child process and resolves with its origin. */
export async function startBenchUpstream(): Promise<{ origin: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(new URL('./upstream-server.mjs', import.meta.url)), { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer]
  return { origin: `http://127.0.0.1:${chunk.toString().trim()}`, child }
}

/** Requests per second for `total` calls of `send`, `inFlight` at a time. */
export async function throughput(send: () => Promise<unknown>, total: number, inFlight: number): Promise<number> {
  let next = 0
  const started = performance.now()
  const worker = async (): Promise<void> => {
    while (next++ < total) await send()
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  return total / ((performance.now() - started) / 1000)
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
 * Runs the contenders in alternating rounds (A B A B …, the order flipped every round) so drift in the
 * machine's state hits both alike; reports each one's median and the ratio of the second to the first.
 */
export async function compare(title: string, contenders: readonly [Contender, Contender], options: { rounds: number; perRound: number; inFlight: number }): Promise<{ medians: [number, number]; ratio: number }> {
  const samples: [number[], number[]] = [[], []]
  for (const c of contenders) await throughput(c.send, Math.min(500, options.perRound), options.inFlight) // warm-up
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0]
    for (const i of order) samples[i as 0 | 1].push(await throughput(contenders[i as 0 | 1].send, options.perRound, options.inFlight))
  }
  const medians: [number, number] = [median(samples[0]), median(samples[1])]
  const ratio = medians[1] / medians[0]
  console.log(`\n${title}  (${options.rounds} alternating rounds × ${options.perRound} requests, ${options.inFlight} in flight)`)
  for (const [i, c] of contenders.entries()) {
    console.log(`  ${c.name.padEnd(44)} median ${medians[i]!.toFixed(0).padStart(6)} req/s   rounds: ${samples[i]!.map((s) => s.toFixed(0)).join(' ')}`)
  }
  console.log(`  ratio ${contenders[1].name} / ${contenders[0].name}: ${ratio.toFixed(3)}`)
  return { medians, ratio }
}
