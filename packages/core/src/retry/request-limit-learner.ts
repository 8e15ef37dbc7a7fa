/**
 * Learns an origin's per-connection request limit from its stale failures.
 *
 * Some servers and load balancers close a connection after a fixed number of requests without saying so
 * (no `Connection: close`, the close lands a few ms after the last response), so the request after the
 * N-th on every connection meets a dead socket that was hardly idle: the idle limit cannot help. When two
 * connections in a row die right after the same number of requests, that number is the limit, and later
 * connections are retired after it. A death after fewer requests than the limit learned lowers it.
 */
export class RequestLimitLearner {
  #learned: number | null = null
  #lastSeen: number | null = null

  get learned(): number | null {
    return this.#learned
  }

  /** A connection died right after carrying `completed` requests; returns the new limit when it changed. */
  onDeathAfter(completed: number): number | null {
    if (completed < 1) return null
    const seenTwice = this.#lastSeen === completed
    this.#lastSeen = completed
    if (this.#learned !== null && completed >= this.#learned) return null
    if (!seenTwice && this.#learned === null) return null
    this.#learned = completed
    return completed
  }
}
