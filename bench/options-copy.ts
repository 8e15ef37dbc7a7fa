/**
 * What a copy of dispatch options costs undici, by how the copy was made: undici's own Request (the one its
 * Client builds for every request) constructed from fetch's options as fetch hands them over, from a spread
 * copy given the scope's mark, and from an `Object.assign` copy given the same mark (`copyOfOptions`). On
 * Node 20 the spread copy makes the constructor about seven times slower (bench/README.md, "Profile"). No
 * network: the constructor only checks and stores what it is given.
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { median } from './harness.js'

type UndiciRequest = new (origin: string, options: object, handler: object) => unknown
const CoreRequest = createRequire(import.meta.url)('undici/lib/core/request.js') as UndiciRequest

const ORIGIN = 'http://127.0.0.1:3000'
const kCallScope = Symbol.for('staleguard.callScope.v1')
const handler = { onConnect() {}, onHeaders() {}, onData() {}, onComplete() {}, onError() {}, onUpgrade() {} }
const scope = {}

/** The options Node's fetch hands a dispatcher for a GET: a fresh literal per call. */
const fromFetch = () => ({
  path: '/items',
  origin: ORIGIN,
  method: 'GET',
  body: null,
  headers: {
    accept: '*/*',
    'accept-language': '*',
    'sec-fetch-mode': 'cors',
    'user-agent': 'node',
    'accept-encoding': 'gzip, deflate',
  },
  maxRedirections: 0,
  upgrade: undefined,
})

const kinds: Record<string, () => object> = {
  "fetch's options as given": fromFetch,
  'spread copy with a mark': () => ({ ...fromFetch(), [kCallScope]: scope }),
  'Object.assign copy with a mark': () => {
    const copy: Record<symbol, unknown> = Object.assign({}, fromFetch())
    copy[kCallScope] = scope
    return copy
  },
}

export interface OptionsCopyResult {
  /** Median ns per Request constructed, by kind of options. */
  readonly nsPerRequest: Record<string, number>
}

/**
 * Each kind in a process of its own, so that the constructor sees one shape of options, as in an app (mixed in
 * one process, the three shapes slow it down for all of them); rounds of `perRound` constructions, the median.
 */
export async function benchOptionsCopy(options: { rounds: number; perRound: number }): Promise<OptionsCopyResult> {
  const nsPerRequest: Record<string, number> = {}
  for (const kind of Object.keys(kinds)) {
    const child = fork(fileURLToPath(import.meta.url), [kind, String(options.rounds), String(options.perRound)])
    const [ns] = (await once(child, 'message')) as [number]
    nsPerRequest[kind] = ns
    child.disconnect()
  }
  console.log(`\nundici's Request constructed from dispatch options, by how they were copied (${process.version})`)
  for (const [kind, ns] of Object.entries(nsPerRequest)) console.log(`  ${kind}: ${ns.toFixed(0)} ns`)
  return { nsPerRequest }
}

function measure(kind: string, rounds: number, perRound: number): number {
  const make = kinds[kind]
  if (make === undefined) throw new Error(`unknown kind ${kind}`)
  const samples: number[] = []
  let sink: unknown
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < perRound; i++) sink = new CoreRequest(ORIGIN, make(), handler)
    samples.push(Number(process.hrtime.bigint() - start) / perRound)
  }
  if (sink === undefined) throw new Error('nothing constructed')
  return median(samples)
}

const [kindArgument, roundsArgument, perRoundArgument] = process.argv.slice(2)
if (process.send !== undefined && kindArgument !== undefined && kinds[kindArgument] !== undefined) {
  process.send(measure(kindArgument, Number(roundsArgument), Number(perRoundArgument)))
}
