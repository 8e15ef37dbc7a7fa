/**
 * What an origin's reused sockets have shown about how long the path keeps an idle connection: the longest idle
 * after which one still got its response (proven safe), and the shortest idle after which one died (failed).
 * The path's real idle limit lies between the two. Two things are read from it:
 *
 * - the idle limit sockets are retired at: the configured one until a failure, then just below the shortest
 *   failure (10 % under it). Sockets are never kept past it, so no socket dies of idling below it; a socket that
 *   dies of idling above the real limit shortens the failure, so the limit closes in on the real one from above
 *   and settles within 10 % below it (with halving it settled at half). Five minutes after the last failure,
 *   long reuses that succeed raise it again in 25 % steps, back to the configured limit: a hop whose timeout
 *   grew is found, and one that has not grown costs a retried request to say so.
 * - how long a socket may have been idle and still carry a request that cannot be replayed (a POST without an
 *   Idempotency-Key): 90 % of the longest idle proven safe, 250 ms before there is any, or, on a declared path
 *   (`upstreamIdleTimeout`, `upstream`), the idle time kept below it until a failure proves it wrong. A proof is
 *   a fact about the path: a failure above it leaves it standing. A failure at or below it contradicts it (a
 *   pool of load balancers with different timeouts, a hop whose timeout shrank): then the proof drops to half
 *   the failure, and for five minutes no reuse lifts it past that.
 *
 * Idle times at or below the floor say nothing about an idle timeout (no hop anyone runs forgets a connection
 * that soon); such deaths are a request limit's or an incident's (see the request limit learner and
 * `IncidentWindow`). An origin's state can be saved and put back, so that what an incident taught is undone.
 */
export const FLOOR_MS = 250
/** Below the shortest failure, the share of it that the learned limit keeps off (timer slack, a FIN in flight). */
const MARGIN = 0.1
/** The share of the proven idle time a socket may have been idle and still carry a request that cannot be replayed. */
const PROOF_MARGIN = 0.9
const RAISE_AFTER_GOOD_REUSES = 10
const RAISE_STEP = 1.25
const QUIET_MS = 5 * 60_000

export interface IdleLimitChange {
  readonly previousMs: number
  readonly limitMs: number
}

/** Everything an origin's idle evidence holds, to put back after an incident. */
export interface IdleEvidenceState {
  readonly failedMs: number | null
  readonly provenMs: number | null
  readonly declaredMs: number | null
  readonly ceilingMs: number
  readonly ceilingUntil: number
  readonly lastFailureAt: number
  readonly goodReuses: number
}

export class IdleEvidence {
  readonly #configuredMs: number
  /** Whether the idle limit is learned at all (`learnIdleLimit`); the proof is kept either way. */
  readonly #learns: boolean
  #failedMs: number | null = null
  #provenMs: number | null = null
  #declaredMs: number | null
  #ceilingMs = Number.POSITIVE_INFINITY
  #ceilingUntil = Number.NEGATIVE_INFINITY
  #lastFailureAt = Number.NEGATIVE_INFINITY
  #goodReuses = 0

  /** `declaredMs`: the longest idle the configuration keeps sockets for below a declared path timeout, or null. */
  constructor(configuredMs: number, declaredMs: number | null, learns: boolean) {
    this.#configuredMs = configuredMs
    this.#declaredMs = declaredMs
    this.#learns = learns
  }

  /** The idle limit in force: the learned one when lower than the configured one. */
  get limitMs(): number {
    return this.learnedMs ?? this.#configuredMs
  }

  /** The learned idle limit, or null while the configured one holds. */
  get learnedMs(): number | null {
    if (!this.#learns || this.#failedMs === null) return null
    const below = Math.max(FLOOR_MS, Math.floor(this.#failedMs * (1 - MARGIN)))
    return below >= this.#configuredMs ? null : below
  }

  /** The longest idle a reused socket survived (whole ms), or null before any. */
  get provenMs(): number | null {
    return this.#provenMs
  }

  /** A socket idle this long may carry a request that cannot be replayed. */
  get affordableMs(): number {
    const proven = this.#provenMs === null ? 0 : Math.floor(this.#provenMs * PROOF_MARGIN)
    return Math.max(FLOOR_MS, proven, this.#declaredMs ?? 0)
  }

  onSuccessfulReuse(idleMs: number, now: number): IdleLimitChange | null {
    let proven = Math.round(idleMs)
    if (now < this.#ceilingUntil) proven = Math.min(proven, this.#ceilingMs)
    if (this.#provenMs === null || proven > this.#provenMs) this.#provenMs = proven
    return this.#raiseAfterQuiet(idleMs, now)
  }

  /** A reused socket idle `idleMs` died before any response byte. Returns the limit's change, if any. */
  onStaleFailure(idleMs: number, now: number): IdleLimitChange | null {
    if (idleMs <= FLOOR_MS) return null
    const failed = Math.round(idleMs)
    const previousMs = this.limitMs
    this.#lastFailureAt = now
    this.#goodReuses = 0
    this.#declaredMs = null
    if (this.#provenMs !== null && this.#provenMs >= failed) {
      // A socket idle less than one that survived has died: the proof is not the path's whole story.
      const half = Math.floor(failed / 2)
      this.#provenMs = half
      this.#ceilingMs = now < this.#ceilingUntil ? Math.min(this.#ceilingMs, half) : half
      this.#ceilingUntil = now + QUIET_MS
    }
    if (this.#failedMs === null || failed < this.#failedMs) this.#failedMs = failed
    return this.#change(previousMs)
  }

  get state(): IdleEvidenceState {
    return {
      failedMs: this.#failedMs,
      provenMs: this.#provenMs,
      declaredMs: this.#declaredMs,
      ceilingMs: this.#ceilingMs,
      ceilingUntil: this.#ceilingUntil,
      lastFailureAt: this.#lastFailureAt,
      goodReuses: this.#goodReuses,
    }
  }

  /** Puts back a state saved before; returns the limit's change, if any. A proof gained since is kept. */
  restore(saved: IdleEvidenceState): IdleLimitChange | null {
    const previousMs = this.limitMs
    const provenSince = this.#provenMs
    this.#failedMs = saved.failedMs
    this.#declaredMs = saved.declaredMs
    this.#ceilingMs = saved.ceilingMs
    this.#ceilingUntil = saved.ceilingUntil
    this.#lastFailureAt = saved.lastFailureAt
    this.#goodReuses = saved.goodReuses
    this.#provenMs = provenSince === null ? saved.provenMs : Math.max(provenSince, saved.provenMs ?? 0)
    return this.#change(previousMs)
  }

  /** Five minutes after the last failure, every ten long reuses in a row lift the failure a step (25 %). */
  #raiseAfterQuiet(idleMs: number, now: number): IdleLimitChange | null {
    const learned = this.learnedMs
    if (learned === null || idleMs < learned * 0.8) return null
    if (now - this.#lastFailureAt < QUIET_MS) return null
    if (++this.#goodReuses < RAISE_AFTER_GOOD_REUSES) return null
    this.#goodReuses = 0
    const previousMs = this.limitMs
    const raised = Math.round((this.#failedMs as number) * RAISE_STEP)
    this.#failedMs = raised * (1 - MARGIN) >= this.#configuredMs ? null : raised
    return this.#change(previousMs)
  }

  #change(previousMs: number): IdleLimitChange | null {
    const limitMs = this.limitMs
    return limitMs === previousMs ? null : { previousMs, limitMs }
  }
}
