/**
 * `pnpm bench [fetch|frameworks|fast-path|soak …]`: the benchmarks, each comparing side by side in one run
 * with alternating rounds, reporting medians and ratios. Speed lives here, never in the tests.
 * BENCH_ROUNDS, BENCH_PER_ROUND, BENCH_SECONDS and BENCH_SOAK trade time for precision.
 */
import os from 'node:os'
import { benchFastPath } from './fast-path.js'
import { benchFetchVsCreateFetch } from './fetch-vs-createfetch.js'
import { benchFrameworks } from './frameworks.js'
import { benchSoak } from './soak.js'

const all = ['fetch', 'frameworks', 'fast-path', 'soak'] as const
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : [...all]
const unknown = chosen.filter((name) => !all.includes(name as (typeof all)[number]))
if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}; choose from ${all.join(', ')}`)
const rounds = Number(process.env.BENCH_ROUNDS ?? 21)
const perRound = Number(process.env.BENCH_PER_ROUND ?? 2_000)
const seconds = Number(process.env.BENCH_SECONDS ?? 2)
const soakRequests = Number(process.env.BENCH_SOAK ?? 100_000)

console.log(`staleguard benchmarks — Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}`)
const summary: string[] = []
if (chosen.includes('fetch')) {
  const r = await benchFetchVsCreateFetch({ rounds, perRound, inFlight: 32 })
  summary.push(`createFetch / fetch + equivalent Agent: ${r.ratio.toFixed(3)} by req/s, ${r.cpuRatio.toFixed(3)} by CPU (target ≥ 0.97)`)
}
if (chosen.includes('frameworks')) {
  const ratios = await benchFrameworks({ rounds: Math.max(3, Math.round(rounds / 2)), seconds })
  for (const [framework, ratio] of Object.entries(ratios)) summary.push(`${framework} route, scoped fetch / bare fetch: ${ratio.rate.toFixed(3)} by req/s, ${ratio.cpu.toFixed(3)} by app CPU per request (target ≥ 0.95)`)
}
if (chosen.includes('fast-path')) {
  const r = await benchFastPath({ rounds, perRound, inFlight: 32 })
  summary.push(`fast path / scoped fetch: ${r.ratio.toFixed(2)}× by req/s, ${r.cpuRatio.toFixed(2)}× by CPU (target ≥ 2.5×)`)
}
if (chosen.includes('soak')) {
  const { before, after } = await benchSoak({ requests: soakRequests })
  summary.push(`soak ${soakRequests} requests: heap ${(after.heapUsedMB - before.heapUsedMB).toFixed(1)} MB, handles ${after.handles - before.handles}, listeners ${after.listenersOnSharedSignal - before.listenersOnSharedSignal}`)
}
console.log(`\nsummary\n${summary.map((line) => `  ${line}`).join('\n')}`)
