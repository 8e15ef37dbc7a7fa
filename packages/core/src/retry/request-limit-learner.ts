/**
 * Learns an origin's per-connection request limit from its stale failures.
 *
 * Some servers and load balancers close a connection after a fixed number of requests without saying so
 * (no `Connection: close`, the close lands a few ms after the last response), so the request after the
 * N-th on every connection meets a dead socket that was hardly idle: the idle limit cannot help. When two
 * connections in a row die right after the same number of requests, that number is the limit, and later
 * connections are retired after it. A death after fewer requests than the limit learned lowers it.
 *
 * A learned limit is tried again once it has gone five minutes without a death to confirm it (connections
 * retired before the limit cannot die of it): it is dropped, and doubted instead, so that a connection past the
 * old limit carries only requests that can be replayed (a GET's answer past it clears the doubt; a death right
 * at it brings the limit back at once). Deaths that an incident explains (`IncidentWindow`) are never seen here.
 */
const CONFIRM_WITHIN_MS = 5 * 60_000

/** What the learner holds, to put back after an incident. */
export interface RequestLimitState {
  readonly learned: number | null
  readonly lastSeen: number | null
  readonly learnedAt: number
  readonly doubted: number | null
}

export class RequestLimitLearner {
  #learned: number | null = null
  #lastSeen: number | null = null
  #learnedAt = Number.NEGATIVE_INFINITY
  #doubted: number | null = null

  /** The limit in force, or null; past its five minutes it is dropped and doubted (see `doubted`). */
  learned(now: number): number | null {
    if (this.#learned !== null && now - this.#learnedAt > CONFIRM_WITHIN_MS) {
      this.#doubted = this.#learned
      this.#learned = null
      this.#lastSeen = null
    }
    return this.#learned
  }

  /** A limit dropped for want of confirmation: connections past it carry only replayable requests. */
  get doubted(): number | null {
    return this.#doubted
  }

  /** A connection of this origin answered a request after carrying `completed` others. */
  onAnswerAfter(completed: number): void {
    if (this.#doubted !== null && completed >= this.#doubted) this.#doubted = null
  }

  /** A connection died right after carrying `completed` requests; returns the new limit when it changed. */
  onDeathAfter(completed: number, now: number): number | null {
    if (completed < 1) return null
    const seenTwice = this.#lastSeen === completed || this.#doubted === completed
    this.#lastSeen = completed
    const learned = this.learned(now)
    if (learned !== null && completed >= learned) {
      if (completed === learned) this.#learnedAt = now
      return null
    }
    if (!seenTwice && learned === null) return null
    this.#learned = completed
    this.#learnedAt = now
    this.#doubted = null
    return completed
  }

  get state(): RequestLimitState {
    return { learned: this.#learned, lastSeen: this.#lastSeen, learnedAt: this.#learnedAt, doubted: this.#doubted }
  }

  restore(saved: RequestLimitState): void {
    this.#learned = saved.learned
    this.#lastSeen = saved.lastSeen
    this.#learnedAt = saved.learnedAt
    this.#doubted = saved.doubted
  }
}
