import { sleep } from './wait.js'

/**
 * Traffic with idle gaps: bursts of requests separated by pauses, the pattern under which stale sockets
 * bite (sockets pooled by one burst sit idle through the gap, and the next burst reuses them).
 */
export interface BurstPlan {
  /** Bursts after the warm-up burst. */
  readonly bursts: number
  readonly burstSize: number
  /** `parallel` sends a burst's requests at once (one socket each); `sequential` one after another. */
  readonly shape: 'parallel' | 'sequential'
  /** Idle gap before each burst, in ms (a function to vary it). */
  readonly gapMs: number | ((burst: number) => number)
  /** Stop early (and say so) past this much wall time. Default 60 s. */
  readonly deadlineMs?: number
}

export interface BurstResult {
  sent: number
  ok: number
  failed: number
  /** Failures by error code (the fetch cause's code when there is one). */
  readonly errors: Record<string, number>
  /** True when the deadline cut the run short. */
  timedOut: boolean
}

/** `send(i)` makes request number i and resolves once its body is read; a rejection counts as lost. */
export async function runBursts(send: (index: number) => Promise<unknown>, plan: BurstPlan): Promise<BurstResult> {
  const result: BurstResult = { sent: 0, ok: 0, failed: 0, errors: {}, timedOut: false }
  const deadline = performance.now() + (plan.deadlineMs ?? 60_000)
  let index = 0
  const one = async (): Promise<void> => {
    const i = index++
    result.sent++
    try {
      await send(i)
      result.ok++
    } catch (error) {
      result.failed++
      const code = errorCode(error)
      result.errors[code] = (result.errors[code] ?? 0) + 1
    }
  }
  const burst = async (): Promise<void> => {
    if (plan.shape === 'parallel') {
      await Promise.all(Array.from({ length: plan.burstSize }, one))
    } else {
      for (let i = 0; i < plan.burstSize; i++) await one()
    }
  }
  await burst()
  for (let b = 0; b < plan.bursts; b++) {
    if (performance.now() > deadline) {
      result.timedOut = true
      break
    }
    const gap = typeof plan.gapMs === 'function' ? plan.gapMs(b) : plan.gapMs
    await sleep(gap)
    await burst()
  }
  return result
}

export function errorCode(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown; cause?: { code?: unknown; name?: unknown } } | null
  if (typeof e?.cause?.code === 'string') return e.cause.code
  if (typeof e?.code === 'string') return e.code
  if (typeof e?.cause?.name === 'string') return e.cause.name
  return typeof e?.name === 'string' ? e.name : 'unknown'
}
