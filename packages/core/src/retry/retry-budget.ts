import type { RetryBudgetSettings } from '../config/options.js'

/**
 * A retry budget in the style of Envoy and Finagle: retries may be at most `ratio` of the requests seen
 * over a sliding window, but never fewer than `minRetries` per window, so a quiet service can still
 * retry. When an upstream is dead every attempt fails; the budget keeps staleguard from doubling that
 * load.
 *
 * A retry that gets a response gives its share back, as gRPC's retry throttling regains tokens on success:
 * it is evidence that the upstream is healthy and the socket alone was stale (a server that closes each
 * connection after a few requests makes every few requests meet a dead socket, and every retry succeeds).
 * So the budget bounds retries that fail, which is the amplification it exists to stop.
 *
 * The window is kept as ten buckets so the cost per request is one array index, not a list of stamps.
 */
const BUCKETS = 10

export class RetryBudget {
  readonly #settings: RetryBudgetSettings
  readonly #bucketMs: number
  readonly #requests = new Array<number>(BUCKETS).fill(0)
  readonly #retries = new Array<number>(BUCKETS).fill(0)
  #current = 0
  #currentStart = 0

  constructor(settings: RetryBudgetSettings) {
    this.#settings = settings
    this.#bucketMs = settings.windowMs / BUCKETS
  }

  recordRequest(now: number): void {
    this.#advance(now)
    this.#requests[this.#current]!++
  }

  /** Takes one retry from the budget when it allows one. */
  tryTakeRetry(now: number): boolean {
    if (!this.allowsRetry(now)) return false
    this.#retries[this.#current]!++
    return true
  }

  /** Whether the budget would allow one more retry now (nothing taken). */
  allowsRetry(now: number): boolean {
    this.#advance(now)
    let requests = 0
    let retries = 0
    for (let i = 0; i < BUCKETS; i++) {
      requests += this.#requests[i]!
      retries += this.#retries[i]!
    }
    return retries + 1 <= Math.max(this.#settings.minRetries, this.#settings.ratio * requests)
  }

  /** A retry taken at `takenAt` got a response: it no longer counts against the window it was taken in. */
  refundRetry(takenAt: number, now: number): void {
    this.#advance(now)
    const back = takenAt >= this.#currentStart ? 0 : Math.ceil((this.#currentStart - takenAt) / this.#bucketMs)
    if (back >= BUCKETS) return
    const index = (this.#current - back + BUCKETS) % BUCKETS
    if (this.#retries[index]! > 0) this.#retries[index]!--
  }

  #advance(now: number): void {
    if (now - this.#currentStart < this.#bucketMs) return
    const elapsed = Math.min(BUCKETS, Math.floor((now - this.#currentStart) / this.#bucketMs))
    for (let i = 0; i < elapsed; i++) {
      this.#current = (this.#current + 1) % BUCKETS
      this.#requests[this.#current] = 0
      this.#retries[this.#current] = 0
    }
    this.#currentStart = now - ((now - this.#currentStart) % this.#bucketMs)
  }
}
