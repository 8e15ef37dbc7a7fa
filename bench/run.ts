/**
 * `pnpm bench [fetch|agent|h2|frameworks|fast-path|soak|allocation|connections|options-copy …]`: the benchmarks, each comparing side by side in one run
 * with alternating rounds (the frameworks one also with both sides loaded at once), reporting medians and ratios. Speed lives here, never in the tests.
 * BENCH_ROUNDS, BENCH_PER_ROUND, BENCH_TRIALS, BENCH_FRAMEWORK_ROUNDS, BENCH_SECONDS, BENCH_WARMUP, BENCH_SHARED_TRIALS, BENCH_SOAK and BENCH_ALLOCATION trade
 * time for precision; BENCH_FRAMEWORKS (e.g. `express,koa`) narrows the frameworks benchmark.
 */
import os from 'node:os'
import { benchAllocation } from './allocation.js'
import { benchConnections } from './connections.js'
import { benchFastPath } from './fast-path.js'
import { benchFetchVsCreateFetch } from './fetch-vs-createfetch.js'
import { benchHttp2 } from './http2.js'
import { benchHttpAgent } from './http-agent.js'
import { benchOptionsCopy } from './options-copy.js'
import { type FrameworkRatios, benchFrameworks } from './frameworks.js'
import type { Framework } from './harness.js'
import { benchSoak } from './soak.js'

const all = [
  'fetch',
  'agent',
  'h2',
  'frameworks',
  'fast-path',
  'soak',
  'allocation',
  'connections',
  'options-copy',
] as const
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : [...all]
const unknown = chosen.filter((name) => !all.includes(name as (typeof all)[number]))
if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}; choose from ${all.join(', ')}`)
const rounds = Number(process.env.BENCH_ROUNDS ?? 21)
const perRound = Number(process.env.BENCH_PER_ROUND ?? 2_000)
const seconds = Number(process.env.BENCH_SECONDS ?? 1)
// Frameworks: trials (fresh app processes each) × short paired rounds; the per-pair ratios spread by ±10 % on a shared machine.
const frameworkTrials = Number(process.env.BENCH_TRIALS ?? 7)
const frameworkRounds = Number(process.env.BENCH_FRAMEWORK_ROUNDS ?? 8)
const frameworkWarmup = Number(process.env.BENCH_WARMUP ?? 1)
const sharedTrials = Number(process.env.BENCH_SHARED_TRIALS ?? 3)
const soakRequests = Number(process.env.BENCH_SOAK ?? 100_000)
const allocationRequests = Number(process.env.BENCH_ALLOCATION ?? 20_000)
const frameworks = (process.env.BENCH_FRAMEWORKS ?? 'fastify,express,koa').split(',') as Framework[]

console.log(
  `staleguard benchmarks — Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}`,
)
const summary: string[] = []
if (chosen.includes('fetch')) {
  const r = await benchFetchVsCreateFetch({ rounds, perRound, inFlight: 32 })
  summary.push(
    `createFetch / fetch + equivalent Agent: ${r.ratio.toFixed(3)} by req/s, ${r.cpuRatio.toFixed(3)} by CPU (target ≥ 0.97)`,
  )
}
if (chosen.includes('agent')) {
  const r = await benchHttpAgent({ rounds, perRound, inFlight: 32 })
  summary.push(
    `http.request, createHttpAgent / plain keep-alive http.Agent: ${r.ratio.toFixed(3)} by req/s, ${r.cpuRatio.toFixed(3)} by CPU (target ≥ 0.97; noise floor, a plain Agent against its twin: ${r.noiseFloor.toFixed(3)})`,
  )
}
if (chosen.includes('h2')) {
  const r = await benchHttp2({ rounds, perRound, inFlight: 32 })
  summary.push(
    `HTTP/2, createFetch / ${r.peerName}: ${r.ratio.toFixed(3)} by req/s, ${r.cpuRatio.toFixed(3)} by CPU (target ≥ 0.90 against Node 26's fetch); sessions ${r.mySessions} against ${r.peerSessions}`,
  )
}
if (chosen.includes('frameworks')) {
  const { noise, frameworks: ratios } = await benchFrameworks({
    trials: frameworkTrials,
    rounds: frameworkRounds,
    seconds,
    warmup: frameworkWarmup,
    sharedTrials,
    frameworks,
  })
  const both = ({ alternating, shared }: FrameworkRatios) =>
    `${alternating.rate.toFixed(3)} by req/s, ${alternating.cpu.toFixed(3)} by app CPU per request` +
    (shared ? `; sharing one CPU ${shared.rate.toFixed(3)} by req/s, ${shared.cpu.toFixed(3)} by CPU` : '')
  summary.push(`noise floor, two identical apps: ${both(noise)} (1 when the machine is quiet)`)
  for (const [framework, ratio] of Object.entries(ratios))
    summary.push(
      `${framework} route, scoped fetch / bare fetch: ${both(ratio)} (target ≥ 0.90; hand-written peer: ≥ 1.05)`,
    )
}
if (chosen.includes('fast-path')) {
  const r = await benchFastPath({ rounds, perRound, inFlight: 32 })
  summary.push(
    `fast path / scoped fetch: ${r.ratio.toFixed(2)}× by req/s, ${r.cpuRatio.toFixed(2)}× by CPU (target ≥ 2.5×)`,
  )
}
if (chosen.includes('soak')) {
  const { before, after } = await benchSoak({ requests: soakRequests })
  summary.push(
    `soak ${soakRequests} requests: heap ${(after.heapUsedMB - before.heapUsedMB).toFixed(1)} MB, handles ${after.handles - before.handles}, listeners ${after.listenersOnSharedSignal - before.listenersOnSharedSignal}`,
  )
}
if (chosen.includes('allocation')) {
  const results = await benchAllocation({ requests: allocationRequests, frameworks })
  for (const [framework, { bare, staleguard }] of Object.entries(results)) {
    summary.push(
      `${framework} route, scoped fetch − bare fetch: ${((staleguard.allocated - bare.allocated) / 1024).toFixed(1)} KB allocated, ${((staleguard.promoted - bare.promoted) / 1024).toFixed(1)} KB promoted per request`,
    )
  }
}
if (chosen.includes('connections')) {
  for (const r of await benchConnections()) {
    summary.push(
      `${r.scenario}: plain Agent ${r.agent.connections} connections (${r.agent.lost} lost), staleguard ${r.staleguard.connections} (${r.staleguard.lost} lost) for ${r.requests} requests`,
    )
  }
}
if (chosen.includes('options-copy')) {
  const { nsPerRequest } = await benchOptionsCopy({ rounds: 7, perRound: 100_000 })
  summary.push(
    `undici Request from dispatch options: ${Object.entries(nsPerRequest)
      .map(([kind, ns]) => `${kind} ${ns.toFixed(0)} ns`)
      .join(', ')}`,
  )
}
console.log(`\nsummary\n${summary.map((line) => `  ${line}`).join('\n')}`)
