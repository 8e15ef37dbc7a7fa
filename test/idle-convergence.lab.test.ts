import { createDispatcher, getStaleguardDiagnostics } from '@staleguard/core'
import { type FaultProxy, seededRandom, sleep, startFaultProxy } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import { Agent, type Dispatcher, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * A soak behind a hop that forgets flows idle for 1.5 s (a NAT, an NLB: RST on the next packet), under bursty
 * traffic whose idle gaps straddle that limit, heavy-tailed: staleguard starts from its 4 s default, learns the
 * hop's limit from the sockets that die, and must end close below it, losing no GET, failing (almost) no POST,
 * and opening about the connections of a plain Agent that was told the hop's limit (`keepAliveTimeout` 10 %
 * under it, what staleguard derives from a declared `upstreamIdleTimeout`). A plain Agent left at undici's
 * defaults runs beside them for the record: it loses the requests it sends on dead sockets, and so opens fewer
 * connections than anything that does not. All get the very same schedule at the same time, each through a hop
 * of its own.
 */

const HOP_IDLE_MS = 1_500
const SOAK_MS = Number(process.env.SOAK_MS ?? 180_000)

interface Burst {
  /** Idle before the burst, ms. */
  readonly gapMs: number
  readonly parallel: boolean
  readonly methods: readonly ('GET' | 'POST')[]
}

/** Gaps around the hop's limit, a few short ones and a long tail; bursts of 1–6, one request in ten a POST. */
function schedule(seed: number, totalMs: number): Burst[] {
  const next = seededRandom(seed)
  const bursts: Burst[] = []
  for (let elapsed = 0; elapsed < totalMs; ) {
    const pick = next()
    const gapMs =
      pick < 0.6
        ? 600 + next() * 1_800
        : pick < 0.85
          ? 50 + next() * 350
          : Math.min(20_000, 2_500 / (1 - next() * 0.9) ** 0.7)
    const size = 1 + Math.floor(next() * 6)
    const methods = Array.from({ length: size }, () => (next() < 0.1 ? ('POST' as const) : ('GET' as const)))
    bursts.push({ gapMs: Math.round(gapMs), parallel: next() < 0.5, methods })
    elapsed += gapMs + 30
  }
  return bursts
}

interface Outcome {
  sent: number
  lostGets: unknown[]
  posts: number
  failedPosts: number
}

async function play(bursts: readonly Burst[], dispatcher: Dispatcher, hop: FaultProxy, tag: string): Promise<Outcome> {
  const outcome: Outcome = { sent: 0, lostGets: [], posts: 0, failedPosts: 0 }
  let n = 0
  const send = async (method: 'GET' | 'POST') => {
    const id = `${tag}-${n++}`
    outcome.sent++
    if (method === 'POST') outcome.posts++
    try {
      const { body } = await request(`${hop.origin}/soak/${id}`, {
        dispatcher,
        method,
        ...(method === 'POST' ? { body: `order ${id}` } : {}),
      })
      await body.text()
    } catch (error) {
      if (method === 'GET') outcome.lostGets.push({ id, diagnostics: getStaleguardDiagnostics(error) ?? String(error) })
      else outcome.failedPosts++
    }
  }
  for (const burst of bursts) {
    await sleep(burst.gapMs)
    if (burst.parallel) await Promise.all(burst.methods.map(send))
    else for (const method of burst.methods) await send(method)
  }
  return outcome
}

describe('the learned idle limit behind a hop that forgets flows after 1.5 s', () => {
  const upstream = useUpstream()
  let hops: FaultProxy[]
  beforeAll(async () => {
    const mode = { kind: 'rst-after-idle', idleMs: HOP_IDLE_MS } as const
    hops = await Promise.all([1, 2, 3].map(() => startFaultProxy({ port: upstream.port }, mode)))
  })
  afterAll(() => Promise.all(hops.map((hop) => hop.close())))

  it(
    `ends close below it over ${SOAK_MS / 1000} s of bursts, losing nothing, at an informed Agent's connections`,
    async () => {
      const [staleguardHop, informedHop, plainHop] = hops as [FaultProxy, FaultProxy, FaultProxy]
      const bursts = schedule(20261207, SOAK_MS)
      const staleguard = createDispatcher()
      const told = HOP_IDLE_MS * 0.9
      const informed = new Agent({ keepAliveTimeout: told, keepAliveMaxTimeout: told })
      const plain = new Agent()
      try {
        const [ours, informedRun, theirs] = await Promise.all([
          play(bursts, staleguard, staleguardHop, 'staleguard'),
          play(bursts, informed, informedHop, 'informed'),
          play(bursts, plain, plainHop, 'plain'),
        ])
        const origin = staleguard.stats().origins[staleguardHop.origin]!
        const duplicated = upstream.received
          .filter((r) => r.method === 'POST' && r.path.startsWith('/soak/staleguard-'))
          .map((r) => r.path)
          .filter((path, i, all) => all.indexOf(path) !== i)
        console.log(
          `[idle convergence] ${bursts.length} bursts, ${ours.sent} requests each over ${SOAK_MS / 1000} s: ` +
            `staleguard learned ${origin.learnedIdleLimitMs} ms (hop ${HOP_IDLE_MS} ms), lost ${ours.lostGets.length} ` +
            `GETs, ${ours.failedPosts} of ${ours.posts} POSTs failed, ${duplicated.length} sent twice, ` +
            `${origin.staleFailures} stale failures, ${origin.retries} retries, ${staleguardHop.stats.flows} connections; ` +
            `an Agent told ${told} ms lost ${informedRun.lostGets.length} GETs and ${informedRun.failedPosts} POSTs, ` +
            `${informedHop.stats.flows} connections; a plain Agent lost ${theirs.lostGets.length} GETs and ` +
            `${theirs.failedPosts} POSTs, ${plainHop.stats.flows} connections`,
        )
        expect(ours.lostGets).toEqual([])
        expect(duplicated).toEqual([])
        expect(ours.failedPosts).toBeLessThanOrEqual(Math.floor(ours.posts * 0.005))
        expect(origin.learnedIdleLimitMs).not.toBeNull()
        expect(origin.learnedIdleLimitMs!).toBeLessThan(HOP_IDLE_MS)
        expect(origin.learnedIdleLimitMs!).toBeGreaterThanOrEqual(HOP_IDLE_MS * 0.85)
        expect(staleguardHop.stats.flows).toBeLessThanOrEqual(informedHop.stats.flows * 1.1)
      } finally {
        await staleguard.close()
        await informed.close()
        await plain.close()
      }
    },
    SOAK_MS + 120_000,
  )
})
