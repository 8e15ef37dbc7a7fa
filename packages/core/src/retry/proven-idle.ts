import { FLOOR_MS } from './idle-limit-learner.js'

/**
 * How long this origin's sockets have been proven to survive idle: the evidence a request that cannot be
 * replayed is held to (a POST without an Idempotency-Key, a stream body). A reused socket that answered after
 * X ms idle proves every hop on the path kept the connection for X ms; a GET teaches a POST. A stale failure
 * after F ms proves some hop forgets sooner than F, so the evidence drops below F (to F / 2, the idle limit
 * the learner moves to). Such a request goes only on a socket idle for less than the evidence, with a margin
 * for the hop's clock and the time a response takes to cross it; or, without evidence, for less than the
 * floor under which no hop anyone runs forgets a connection.
 */
/** The share of the proven idle time a socket may have been idle and still carry a request that cannot be replayed. */
const MARGIN = 0.9

export class ProvenIdle {
  #provenMs: number | null = null

  /** The longest idle time a reused socket survived, in whole ms, or null before any evidence. */
  get provenMs(): number | null {
    return this.#provenMs
  }

  /** A socket idle this long may carry a request that cannot be replayed. */
  get affordableMs(): number {
    const proven = this.#provenMs
    return proven === null ? FLOOR_MS : Math.max(FLOOR_MS, Math.floor(proven * MARGIN))
  }

  onSuccessfulReuse(idleMs: number): void {
    if (this.#provenMs === null || idleMs > this.#provenMs) this.#provenMs = Math.round(idleMs)
  }

  onStaleFailure(idleMs: number): void {
    // A socket that died after almost no idle time was closed for another reason (a request limit, a restart).
    if (idleMs <= FLOOR_MS || this.#provenMs === null) return
    this.#provenMs = Math.min(this.#provenMs, Math.floor(idleMs / 2))
  }
}
