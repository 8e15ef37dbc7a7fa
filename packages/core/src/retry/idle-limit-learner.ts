/**
 * Learns an origin's real idle limit from its stale failures.
 *
 * A reused socket that died after X ms idle proves some hop forgets connections sooner than X, but not by
 * how much: the limit drops to X / 2 (never below a floor), which puts later sockets inside the hop's
 * window wherever its timeout lies in the upper half of (0, X). A failure after less idle time than the
 * floor teaches nothing (no limit we are willing to use would have avoided it). Long reuses that succeed
 * raise the limit again in 25 % steps, but only once failures are five minutes old, and never above the
 * configured limit.
 */
/** Idle times shorter than this say nothing about an idle timeout on the path: no limit we would use is lower. */
export const FLOOR_MS = 250
const RAISE_AFTER_GOOD_REUSES = 10
const RAISE_STEP = 1.25
const FORGET_FAILURES_AFTER_MS = 5 * 60_000

export interface IdleLimitChange {
  readonly previousMs: number
  readonly limitMs: number
}

export class IdleLimitLearner {
  readonly #configuredMs: number
  #learnedMs: number | null = null
  #lastFailureAt = Number.NEGATIVE_INFINITY
  #goodReuses = 0

  constructor(configuredMs: number) {
    this.#configuredMs = configuredMs
  }

  /** The idle limit in force: the learned one when lower than the configured one. */
  get currentMs(): number {
    return this.#learnedMs ?? this.#configuredMs
  }

  get learnedMs(): number | null {
    return this.#learnedMs
  }

  onStaleFailure(idleMs: number, now: number): IdleLimitChange | null {
    if (idleMs <= FLOOR_MS) return null
    const target = Math.max(FLOOR_MS, Math.floor(idleMs / 2))
    this.#lastFailureAt = now
    this.#goodReuses = 0
    const previousMs = this.currentMs
    if (target >= previousMs) return null
    this.#learnedMs = target
    return { previousMs, limitMs: target }
  }

  onSuccessfulReuse(idleMs: number, now: number): IdleLimitChange | null {
    const learned = this.#learnedMs
    if (learned === null || idleMs < learned * 0.8) return null
    if (now - this.#lastFailureAt < FORGET_FAILURES_AFTER_MS) return null
    if (++this.#goodReuses < RAISE_AFTER_GOOD_REUSES) return null
    this.#goodReuses = 0
    const raised = Math.round(learned * RAISE_STEP)
    this.#learnedMs = raised >= this.#configuredMs ? null : raised
    return { previousMs: learned, limitMs: this.currentMs }
  }
}
