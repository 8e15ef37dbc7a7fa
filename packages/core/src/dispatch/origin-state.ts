import type { Socket } from 'node:net'
import type { Dispatcher } from 'undici'
import type { buildConnector as BuildConnector } from 'undici'
import { type StaleguardCounters, emptyCounters } from '../observe/counters.js'
import {
  type EvictEvent,
  reportEviction,
  reportIdleLimit,
  reportRequestLimit,
  reportUnreplayableOnNewConnection,
} from '../observe/events.js'
import { FLOOR_MS as IDLE_FLOOR_MS, type IdleLimitChange, IdleLimitLearner } from '../retry/idle-limit-learner.js'
import type { ResolvedOriginOptions } from '../config/options.js'
import { ProvenIdle } from '../retry/proven-idle.js'
import { RequestLimitLearner } from '../retry/request-limit-learner.js'
import { RetryBudget } from '../retry/retry-budget.js'
import { TrackedSocket, trackSocket } from './tracked-socket.js'

/**
 * With undici's socket-error code, which undici treats as recoverable: requests queued on the Client stay
 * queued. One per session: the error may reach a caller, whose diagnostics are attached to it.
 */
const retiredSession = (): Error =>
  Object.assign(new Error('staleguard retired an idle HTTP/2 session'), { code: 'UND_ERR_SOCKET' })

/** How an origin's connections are opened: directly, or through a proxy (then how requests are written). */
export interface OriginPath {
  readonly connect: BuildConnector.connector
  /** The proxy's origin, or null for a direct connection. */
  readonly proxy: string | null
  /** Requests are written in absolute form to a forward proxy, with its headers (no tunnel). */
  readonly forward: ((options: Dispatcher.DispatchOptions) => Dispatcher.DispatchOptions) | null
}

/**
 * Per-origin bookkeeping: the sockets we opened and when each is retired, counters, the retry budget, and
 * what the origin taught (its idle limit, its per-connection request limit).
 */
export class OriginState {
  readonly key: string
  readonly options: ResolvedOriginOptions
  readonly counters: StaleguardCounters = emptyCounters()
  readonly sockets = new Set<TrackedSocket>()
  /** Requests dispatched and not yet finished: an origin with any is never forgotten. */
  inFlight = 0
  readonly budget: RetryBudget | null
  readonly #learner: IdleLimitLearner | null
  readonly #requestLimits: RequestLimitLearner | null
  readonly #proven: ProvenIdle
  /** No socket is suspect before this time while the affordable time stays at least `#noSuspectAffordable`. */
  #noSuspectUntil = Number.NEGATIVE_INFINITY
  #noSuspectAffordable = Number.POSITIVE_INFINITY
  readonly connect: BuildConnector.connector
  readonly path: OriginPath
  /** Whether this origin's connections may be HTTP/2 sessions (an `https:` origin with `allowH2`). */
  readonly mayMultiplex: boolean

  constructor(key: string, options: ResolvedOriginOptions, path: OriginPath) {
    this.key = key
    this.options = options
    this.budget = options.retry?.budget ? new RetryBudget(options.retry.budget) : null
    this.#learner = options.learnIdleLimit ? new IdleLimitLearner(options.keepAliveTimeout) : null
    this.#requestLimits = options.learnIdleLimit ? new RequestLimitLearner() : null
    // A declared path: undici keeps no socket idle past keepAliveMaxTimeout, which is checked below it.
    this.#proven = new ProvenIdle(options.upstreamIdleTimeout === null ? null : options.keepAliveMaxTimeout)
    this.path = path
    this.mayMultiplex = options.allowH2 && key.startsWith('https:')
    this.connect = (connectOptions, callback) => {
      path.connect(connectOptions, (...result) => {
        if (result[0] === null) this.#adopt(result[1])
        callback(...result)
      })
    }
  }

  /** The idle limit in force (learned, or configured). */
  get idleLimitMs(): number {
    return this.#learner?.currentMs ?? this.options.keepAliveTimeout
  }

  get learnedIdleLimitMs(): number | null {
    return this.#learner?.learnedMs ?? null
  }

  /** The requests per connection after which this origin's connections die, once learned; else null. */
  get learnedRequestLimit(): number | null {
    return this.#requestLimits?.learned ?? null
  }

  /** The longest idle a reused socket of this origin survived (whole ms), or null before any reuse. */
  get provenIdleMs(): number | null {
    return this.#proven.provenMs
  }

  /** A socket idle longer than this may not carry a request that cannot be replayed. */
  get affordableIdleMs(): number {
    return this.#proven.affordableMs
  }

  /**
   * Whether some idle socket (an HTTP/1.1 connection or an HTTP/2 session) has been idle longer than this
   * origin has proven safe. Without one the pool's choice is safe for any request: a socket within the
   * evidence, a new connection, or the next socket to finish a response.
   */
  hasSuspectIdleSocket(now: number): boolean {
    const affordable = this.#proven.affordableMs
    // Asked on nearly every request: after a walk that found none, no socket can turn suspect before the
    // earliest idle one passes the affordable time (a socket going idle later starts its idle later), so
    // until then the answer stands, unless the affordable time went down.
    if (now <= this.#noSuspectUntil && affordable >= this.#noSuspectAffordable) return false
    let horizon = now + affordable
    for (const record of this.sockets) {
      if (this.#isSuspect(record, now, affordable)) return true
      if (record.inFlight === 0 && record.requests > 0) horizon = Math.min(horizon, record.idleSince + affordable)
    }
    this.#noSuspectUntil = horizon
    this.#noSuspectAffordable = affordable
    return false
  }

  /** Whether an idle socket has been idle longer than this origin has proven safe (a busy one is not). */
  suspects(record: TrackedSocket, now: number): boolean {
    return this.#isSuspect(record, now, this.#proven.affordableMs)
  }

  /** Closes an idle socket that has been idle too long for the request about to take its Client. */
  retireSuspect(record: TrackedSocket): void {
    this.#destroy(record)
    this.#reportEvicted(1, this.#proven.affordableMs, 'unreplayable-request')
  }

  /** A request that cannot be replayed went on a new connection, for want of a socket proven safe: counted and said. */
  noteUnreplayableOnNewConnection(method: string | undefined, path: string): void {
    this.counters.unreplayableOnNewConnection++
    reportUnreplayableOnNewConnection({
      origin: this.key,
      method: (method ?? 'GET').toUpperCase(),
      path,
      provenIdleMs: this.#proven.provenMs,
      affordableIdleMs: this.#proven.affordableMs,
    })
  }

  /** Runs for every request, over every socket of the origin: the cheapest tests first, no allocation. */
  #isSuspect(record: TrackedSocket, now: number, affordableMs: number): boolean {
    // A socket that never carried a request was just opened for one that is about to be written.
    return (
      record.inFlight === 0 && record.requests > 0 && now - record.idleSince > affordableMs && !record.socket.destroyed
    )
  }

  /**
   * Marks a socket idle again once its request finished. A connection past its lifetime (its age, or its
   * request limit: configured, learned, or announced by the server) is retired here, before undici can hand
   * it another request; otherwise retirement is armed for when it would pass one idle.
   */
  release(record: TrackedSocket, now: number): void {
    // An HTTP/2 session goes idle when its last stream ends.
    if (--record.inFlight > 0) return
    record.idleSince = now
    if (record.socket.destroyed) return
    if (this.#pastLifetime(record, now)) {
      this.#destroy(record)
      this.#reportEvicted(1, 0, 'lifetime')
      return
    }
    const delay = this.#retireDelay(record, now)
    if (delay !== null) this.#armRetirement(record, delay)
  }

  onSuccessfulReuse(idleMs: number, now: number): void {
    this.#proven.onSuccessfulReuse(idleMs, now)
    const change = this.#learner?.onSuccessfulReuse(idleMs, now)
    if (change) this.#applyLimit(change, 'successful-reuses', now)
  }

  /**
   * A reused socket idle for `idleMs` died before any response byte: it is counted and learned from, and
   * its siblings go too. Siblings idle about as long are almost surely dead (sockets pooled by one burst go
   * idle within milliseconds of each other), so every socket idle at least half as long, or past the newly
   * learned limit, is closed now: the next requests after this idle gap must not each discover a dead socket.
   * (Not after a socket that was hardly idle: see below.)
   */
  recordStaleFailure(failed: TrackedSocket, idleMs: number, now: number): void {
    this.counters.staleFailures++
    // Hardly idle: the connection was closed after its last request, not for idling. How many it carried
    // (this attempt aside) is what the request limit learns from.
    if (idleMs <= IDLE_FLOOR_MS) this.#learnRequestLimit(failed.requests - 1, now)
    this.#proven.onStaleFailure(idleMs, now)
    const change = this.#learner?.onStaleFailure(idleMs, now)
    // A socket that died after almost no idle time was closed for another reason (a per-connection request
    // limit, a restart): its idle siblings are not suspect, and closing them would cost connections.
    if (idleMs > IDLE_FLOOR_MS) this.#evictIdle(Math.min(idleMs / 2, this.idleLimitMs), now, failed, 'stale-failure')
    if (change) this.#applyLimit(change, 'stale-failure', now)
  }

  #applyLimit(change: IdleLimitChange, reason: 'stale-failure' | 'successful-reuses', now: number): void {
    reportIdleLimit({ origin: this.key, previousMs: change.previousMs, limitMs: change.limitMs, reason })
    this.#evictIdle(change.limitMs, now, null, 'idle-limit')
    for (const record of this.sockets) {
      if (record.busy || record.requests === 0) continue
      const delay = this.#retireDelay(record, now)
      if (delay === null) this.#disarmRetirement(record)
      else this.#armRetirement(record, delay)
    }
  }

  #learnRequestLimit(completed: number, now: number): void {
    const limit = this.#requestLimits?.onDeathAfter(completed)
    if (limit == null) return
    reportRequestLimit({ origin: this.key, limit })
    for (const record of this.sockets) {
      if (record.busy || record.requests === 0 || !this.#pastLifetime(record, now)) continue
      this.#destroy(record)
      this.#reportEvicted(1, 0, 'lifetime')
    }
  }

  /** Past its age or any request limit (configured, learned, announced). Runs once per request: no allocation. */
  #pastLifetime(record: TrackedSocket, now: number): boolean {
    if (record.retireAt !== null && now >= record.retireAt) return true
    const { requests } = record
    const configured = this.options.maxRequestsPerConnection
    const learned = this.learnedRequestLimit
    const announced = record.serverRequestLimit
    return (
      (configured !== null && requests >= configured) ||
      (learned !== null && requests >= learned) ||
      (announced !== null && requests >= announced)
    )
  }

  /** How long an idle socket may stay: until the learned idle limit or its age, whichever comes first. */
  #retireDelay(record: TrackedSocket, now: number): number | null {
    // undici retires sockets at the configured idle limit; only a learned, lower one needs our own timer.
    const learned = this.#learner?.learnedMs
    const idleLeft = learned == null ? Number.POSITIVE_INFINITY : learned - (now - record.idleSince)
    const ageLeft = record.retireAt === null ? Number.POSITIVE_INFINITY : record.retireAt - now
    const delay = Math.min(idleLeft, ageLeft)
    return delay === Number.POSITIVE_INFINITY ? null : delay
  }

  #evictIdle(minIdleMs: number, now: number, except: TrackedSocket | null, reason: EvictEvent['reason']): void {
    let evicted = 0
    for (const record of this.sockets) {
      // A socket that never carried a request was just opened for one that is about to be written.
      if (record === except || record.busy || record.requests === 0 || record.socket.destroyed) continue
      if (now - record.idleSince < minIdleMs) continue
      this.#destroy(record)
      evicted++
    }
    this.#reportEvicted(evicted, minIdleMs, reason)
  }

  #destroy(record: TrackedSocket): void {
    this.#disarmRetirement(record)
    // undici sees the close of an idle socket and simply connects anew for the next request. An HTTP/2
    // session's socket is closed with an error: undici 7's session close handler reads the socket info of a
    // socket it has already let go of, and throws, unless the socket recorded an error first.
    if (record.multiplexed) record.socket.destroy(retiredSession())
    else record.socket.destroy()
  }

  #reportEvicted(sockets: number, minIdleMs: number, reason: EvictEvent['reason']): void {
    if (sockets === 0) return
    this.counters.socketsEvicted += sockets
    // Whole ms, like every idle time staleguard reports (half an odd idle time is not).
    reportEviction({ origin: this.key, sockets, minIdleMs: Math.round(minIdleMs), reason })
  }

  #armRetirement(record: TrackedSocket, delayMs: number): void {
    this.#disarmRetirement(record)
    record.retireTimer = setTimeout(
      () => {
        record.retireTimer = null
        if (record.busy || record.socket.destroyed) return
        this.#destroy(record)
        if (this.#pastLifetime(record, performance.now())) this.#reportEvicted(1, 0, 'lifetime')
        else this.#reportEvicted(1, this.idleLimitMs, 'idle-limit')
      },
      Math.max(0, delayMs),
    )
    record.retireTimer.unref()
  }

  #disarmRetirement(record: TrackedSocket): void {
    if (record.retireTimer === null) return
    clearTimeout(record.retireTimer)
    record.retireTimer = null
  }

  #adopt(socket: Socket): void {
    const record = new TrackedSocket(socket, performance.now(), this.options.maxConnectionAge)
    this.counters.socketsOpened++
    this.sockets.add(record)
    trackSocket(record)
    socket.once('close', () => {
      this.#disarmRetirement(record)
      this.sockets.delete(record)
    })
  }
}
