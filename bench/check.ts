/**
 * The regression check every test run ends with (`pnpm test`, CI included): `createFetch()` against Node's
 * fetch with an equivalent undici Agent, in one process, 32 in flight to the benchmark upstream, in rounds
 * that rotate the order of three contenders: the Agent, its identical twin, and staleguard. Per round, each
 * ratio to the Agent; the medians over rounds are printed, the twin's as the noise floor. It fails only when
 * staleguard's median falls below `BENCH_CHECK_FLOOR` (default 0.85), a line two identical Agents never
 * crossed on the 2-core CI machines (see bench/README.md, "The check on every run"). Speed is never asserted
 * in the test suites; this is the one place a slowdown of that size turns the run red.
 */
import { createFetch } from '@staleguard/core'
import { Agent } from 'undici'
import { median, pinToCpu, quartiles, startBenchUpstream, throughput } from './harness.js'

const rounds = Number(process.env.BENCH_CHECK_ROUNDS ?? 21)
const perRound = Number(process.env.BENCH_CHECK_PER_ROUND ?? 3_000)
const floor = Number(process.env.BENCH_CHECK_FLOOR ?? 0.85)
const IN_FLIGHT = 32

const { origin, child } = await startBenchUpstream()
pinToCpu(process.pid, 0)
const agentOptions = { keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000, pipelining: 1 }
const agent = new Agent(agentOptions)
const twin = new Agent(agentOptions)
const staleguardFetch = createFetch()
const url = `${origin}/items`
const viaAgent = (dispatcher: Agent) => () =>
  fetch(url, { dispatcher } as unknown as RequestInit).then((response) => response.arrayBuffer())
const contenders = [
  viaAgent(agent),
  viaAgent(twin),
  () => staleguardFetch(url).then((response) => response.arrayBuffer()),
] as const

for (const send of contenders) await throughput(send, 1_000, IN_FLIGHT)
const twinRatios: number[] = []
const staleguardRatios: number[] = []
const twinCpu: number[] = []
const staleguardCpu: number[] = []
for (let round = 0; round < rounds; round++) {
  // Each contender goes first, second and third equally often: the machine's drift within a round falls on all.
  const order = [0, 1, 2].map((i) => (i + round) % 3)
  const samples = new Array<{ rate: number; cpuMicros: number }>(3)
  for (const i of order) samples[i] = await throughput(contenders[i]!, perRound, IN_FLIGHT)
  const [a, t, s] = samples as [(typeof samples)[0], (typeof samples)[0], (typeof samples)[0]]
  twinRatios.push(t.rate / a.rate)
  staleguardRatios.push(s.rate / a.rate)
  twinCpu.push(a.cpuMicros / t.cpuMicros)
  staleguardCpu.push(a.cpuMicros / s.cpuMicros)
}
await Promise.all([agent.close(), twin.close(), staleguardFetch.dispatcher.close()])
child.disconnect()

const line = (values: number[]) => {
  const [low, high] = quartiles(values)
  return `${median(values).toFixed(3)} (IQR ${low.toFixed(3)}–${high.toFixed(3)})`
}
const ratio = median(staleguardRatios)
console.log(
  `bench check, Node ${process.versions.node}, ${rounds} rounds × ${perRound} requests, ${IN_FLIGHT} in flight:\n` +
    `  noise floor, its twin / a plain Agent: ${line(twinRatios)} by req/s, ${line(twinCpu)} by CPU\n` +
    `  createFetch / fetch + plain Agent:     ${line(staleguardRatios)} by req/s, ${line(staleguardCpu)} by CPU\n` +
    `  fails below ${floor.toFixed(2)} by req/s: ${ratio >= floor ? 'passed' : 'FAILED'}`,
)
if (ratio < floor) process.exitCode = 1
