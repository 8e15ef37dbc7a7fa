/**
 * `pnpm bench`: every benchmark, side by side, with medians and ratios. Speed lives here, never in tests.
 * Set BENCH_ROUNDS / BENCH_PER_ROUND to trade time for precision.
 */
import os from 'node:os'
import { benchFetchVsCreateFetch } from './fetch-vs-createfetch.js'

const rounds = Number(process.env.BENCH_ROUNDS ?? 7)
const perRound = Number(process.env.BENCH_PER_ROUND ?? 4_000)
console.log(`staleguard benchmarks — Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}`)
const ratio = await benchFetchVsCreateFetch({ rounds, perRound, inFlight: 32 })
console.log(`\ncreateFetch / fetch+Agent = ${ratio.toFixed(3)} (target ≥ 0.95)`)
