import { FLOOR_MS } from './idle-limit-learner.js'

/**
 * How long this origin's sockets have been proven to survive idle: the evidence a request that cannot be
 * replayed is held to (a POST without an Idempotency-Key, a stream body). A reused socket that answered after
 * X ms idle proves every hop on the path kept the connection for X ms; a GET teaches a POST. A stale failure
 * after F ms proves some hop forgets sooner than F, so the evidence drops below F (to F / 2, the idle limit
 * the learner moves to), and for five minutes no reuse lifts it past that again (a pool of load balancers
 * with different timeouts would otherwise trade one lost POST per round). Such a request goes only on a
 * socket idle for less than the evidence, with a margin for the hop's clock and the time a response takes
 * to cross it; or, without evidence, for less than the floor under which no hop anyone runs forgets a
 * connection. A path declared up front (`upstreamIdleTimeout`, `upstream`) counts as evidence up to the idle
 * time staleguard keeps sockets for below it, until a stale failure says the declaration is wrong.
 */
/** The share of the proven idle time a socket may have been idle and still carry a request that cannot be replayed. */
const MARGIN = 0.9
const DISTRUST_FOR_MS = 5 * 60_000

export class ProvenIdle {
  #provenMs: number | null = null
  #declaredMs: number | null
  #ceilingMs = Number.POSITIVE_INFINITY
  #ceilingUntil = Number.NEGATIVE_INFINITY

  /** `declaredMs`: the longest idle the configuration keeps sockets for below a declared path timeout, or null. */
  constructor(declaredMs: number | null) {
    this.#declaredMs = declaredMs
  }

  /** The longest idle time a reused socket survived, in whole ms, or null before any evidence. */
  get provenMs(): number | null {
    return this.#provenMs
  }

  /** A socket idle this long may carry a request that cannot be replayed. */
  get affordableMs(): number {
    const proven = this.#provenMs === null ? 0 : Math.floor(this.#provenMs * MARGIN)
    return Math.max(FLOOR_MS, proven, this.#declaredMs ?? 0)
  }

  onSuccessfulReuse(idleMs: number, now: number): void {
    let proven = Math.round(idleMs)
    if (this.#provenMs !== null && this.#provenMs >= proven) return
    if (now < this.#ceilingUntil) proven = Math.min(proven, this.#ceilingMs)
    if (this.#provenMs === null || proven > this.#provenMs) this.#provenMs = proven
  }

  onStaleFailure(idleMs: number, now: number): void {
    // A socket that died after almost no idle time was closed for another reason (a request limit, a restart).
    if (idleMs <= FLOOR_MS) return
    const below = Math.floor(idleMs / 2)
    this.#declaredMs = null
    this.#ceilingMs = now < this.#ceilingUntil ? Math.min(this.#ceilingMs, below) : below
    this.#ceilingUntil = now + DISTRUST_FOR_MS
    if (this.#provenMs !== null) this.#provenMs = Math.min(this.#provenMs, below)
  }
}
