import type { LabClient } from './clients.js'
import { sleep } from './wait.js'

/**
 * Traffic with no idle gap: requests arriving at random (a Poisson process, the same one every run) at
 * `ratePerSecond` for `seconds`, each sent when it arrives whatever is still in flight, as requests from
 * many users reach a service. Overlapping requests grow the pool, and its least used sockets idle long.
 */
export interface SteadyPlan {
  readonly ratePerSecond: number
  readonly seconds: number
  /** Methods in turn, request by request (`['GET', 'POST', 'PUT', 'POST']`). */
  readonly methods: readonly string[]
  /** How long the upstream takes to answer each (its `/slow?ms=` path). Default 0. */
  readonly responseMs?: number
}

export interface SteadyResult {
  readonly sent: number
  readonly lost: number
}

/** Sends the plan's requests through a client; bounded by count, and so by time. */
export async function runSteady(
  client: LabClient,
  origin: string,
  tag: string,
  plan: SteadyPlan,
): Promise<SteadyResult> {
  const total = Math.round(plan.ratePerSecond * plan.seconds)
  const random = seededRandom(0x5eed)
  const started = performance.now()
  let at = 0
  let lost = 0
  const inFlight: Promise<void>[] = []
  for (let n = 0; n < total; n++) {
    at += (-Math.log(1 - random()) * 1000) / plan.ratePerSecond
    const wait = started + at - performance.now()
    if (wait > 0) await sleep(wait)
    const method = plan.methods[n % plan.methods.length] ?? 'GET'
    const withBody = method !== 'GET' && method !== 'DELETE' && method !== 'HEAD'
    const path = plan.responseMs ? `/slow?ms=${plan.responseMs}&steady=${tag}-${n}` : `/steady/${tag}/${n}`
    inFlight.push(
      client.send(`${origin}${path}`, { method, ...(withBody ? { body: JSON.stringify({ n }) } : {}) }).then(
        () => {},
        () => {
          lost++
        },
      ),
    )
  }
  await Promise.all(inFlight)
  return { sent: total, lost }
}

/** A small deterministic generator (mulberry32): the same arrivals on every run and every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
