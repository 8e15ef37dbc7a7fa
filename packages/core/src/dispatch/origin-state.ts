import type { Socket } from 'node:net'
import type { Dispatcher } from 'undici'
import type { buildConnector as BuildConnector } from 'undici'
import { type StaleguardCounters, emptyCounters } from '../observe/counters.js'
import {
  type EvictEvent,
  type IdleLimitEvent,
  reportEviction,
  reportIdleLimit,
  reportIncident,
  reportRequestLimit,
  reportUnreplayableOnNewConnection,
} from '../observe/events.js'
import { FLOOR_MS as IDLE_FLOOR_MS, type IdleLimitChange } from '../retry/idle-evidence.js'
import type { ResolvedOriginOptions } from '../config/options.js'
import { type Death, OriginLessons } from '../retry/origin-lessons.js'
import { RetryBudget } from '../retry/retry-budget.js'
import { TrackedSocket, trackSocket } from './tracked-socket.js'
import { streamsTakenBefore } from './http2-session.js'
import { AddressRefresh, type AddressLookup, isHostName } from './address-refresh.js'

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
  /** How a direct connection resolves the origin's name, or null when that is not staleguard's to know. */
  readonly lookup?: AddressLookup | null
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
  /** What its reused sockets taught: idle limit, evidence for requests that cannot be replayed, request limit. */
  readonly #lessons: OriginLessons
  /** No socket is suspect before this time while the affordable time stays at least `#noSuspectAffordable`. */
  #noSuspectUntil = Number.NEGATIVE_INFINITY
  #noSuspectAffordable = Number.POSITIVE_INFINITY
  readonly connect: BuildConnector.connector
  readonly path: OriginPath
  /** Whether this origin's connections may be HTTP/2 sessions (an `https:` origin with `allowH2`). */
  readonly mayMultiplex: boolean
  /** The `pipelining` its HTTP/1.1 connections keep: 1, unless inherited. */
  readonly http1Pipelining: number
  /** It may, and its HTTP/1.1 connections do not pipeline: requests are marked for undici as safe to share a session. */
  readonly sharesSessions: boolean

  /** undici Client options inherited as they were (`maxResponseSize`, `localAddress`…), for every connection. */
  readonly clientOptions: Readonly<Record<string, unknown>>
  /** Looks the origin's name up again while it has connections (null: by address, proxied, or turned off). */
  readonly addressRefresh: AddressRefresh | null

  constructor(
    key: string,
    options: ResolvedOriginOptions,
    path: OriginPath,
    clientOptions: Readonly<Record<string, unknown>> = {},
  ) {
    this.key = key
    this.options = options
    this.clientOptions = clientOptions
    this.budget = options.retry?.budget ? new RetryBudget(options.retry.budget) : null
    // A declared path: undici keeps no socket idle past keepAliveMaxTimeout, which is checked below it.
    const declared = options.upstreamIdleTimeout === null ? null : options.keepAliveMaxTimeout
    this.#lessons = new OriginLessons(options.keepAliveTimeout, declared, options.learnIdleLimit)
    this.path = path
    this.mayMultiplex = options.allowH2 && key.startsWith('https:')
    this.http1Pipelining = (clientOptions.pipelining as number | undefined) ?? 1
    this.sharesSessions = this.mayMultiplex && this.http1Pipelining === 1
    const hostname = new URL(key).hostname
    this.addressRefresh =
      path.lookup == null || options.dnsRefreshInterval === null || !isHostName(hostname)
        ? null
        : new AddressRefresh(hostname, path.lookup, options.dnsRefreshInterval, (addresses) =>
            this.#onAddresses(addresses),
          )
    this.connect = (connectOptions, callback) => {
      path.connect(connectOptions, (...result) => {
        if (result[0] === null) this.adopt(result[1])
        else this.#onConnectFailure(performance.now())
        callback(...result)
      })
    }
  }

  /** The idle limit in force (learned, or configured). */
  get idleLimitMs(): number {
    return this.#lessons.idleLimitMs
  }

  get learnedIdleLimitMs(): number | null {
    return this.#lessons.learnedIdleLimitMs
  }

  /** The requests per connection after which this origin's connections die, once learned; else null. */
  get learnedRequestLimit(): number | null {
    return this.#lessons.learnedRequestLimit(performance.now())
  }

  /** The longest idle a reused socket of this origin survived (whole ms), or null before any reuse. */
  get provenIdleMs(): number | null {
    return this.#lessons.provenIdleMs
  }

  /** A socket idle longer than this may not carry a request that cannot be replayed. */
  get affordableIdleMs(): number {
    return this.#lessons.affordableIdleMs
  }

  /**
   * Whether some idle socket (an HTTP/1.1 connection or an HTTP/2 session) has been idle longer than this
   * origin has proven safe. Without one the pool's choice is safe for any request: a socket within the
   * evidence, a new connection, or the next socket to finish a response.
   */
  hasSuspectIdleSocket(now: number): boolean {
    const affordable = this.#lessons.affordableIdleMs
    const doubted = this.#lessons.doubtedRequestLimit
    // Asked on nearly every request: after a walk that found none, no socket can turn suspect before the
    // earliest idle one passes the affordable time (a socket going idle later starts its idle later), so
    // until then the answer stands, unless the affordable time went down. (While a request limit is doubted,
    // a socket turns suspect by its count too: every request walks.)
    if (now <= this.#noSuspectUntil && affordable >= this.#noSuspectAffordable && doubted === null) return false
    let horizon = now + affordable
    for (const record of this.sockets) {
      if (this.#isSuspect(record, now, affordable, doubted)) return true
      if (record.inFlight === 0 && record.requests > 0) horizon = Math.min(horizon, record.idleSince + affordable)
    }
    this.#noSuspectUntil = horizon
    this.#noSuspectAffordable = affordable
    return false
  }

  /** Whether an idle socket has been idle longer than this origin has proven safe (a busy one is not). */
  suspects(record: TrackedSocket, now: number): boolean {
    return this.#isSuspect(record, now, this.#lessons.affordableIdleMs, this.#lessons.doubtedRequestLimit)
  }

  /** Closes an idle socket that has been idle too long for the request about to take its Client (or its place). */
  retireSuspect(record: TrackedSocket, reason: 'unreplayable-request' | 'scouted' = 'unreplayable-request'): void {
    this.#destroy(record)
    this.#reportEvicted(1, this.#lessons.affordableIdleMs, reason)
  }

  /** A request that cannot be replayed went on a new connection, for want of a socket proven safe: counted and said. */
  noteUnreplayableOnNewConnection(method: string | undefined, path: string): void {
    this.counters.unreplayableOnNewConnection++
    reportUnreplayableOnNewConnection({
      origin: this.key,
      method: (method ?? 'GET').toUpperCase(),
      path,
      provenIdleMs: this.#lessons.provenIdleMs,
      affordableIdleMs: this.#lessons.affordableIdleMs,
    })
  }

  /**
   * Runs for every request, over every socket of the origin: the cheapest tests first, no allocation. Idle past
   * the evidence, or past a request limit that is being tried again (`doubted`).
   */
  #isSuspect(record: TrackedSocket, now: number, affordableMs: number, doubted: number | null): boolean {
    // A socket that never carried a request was just opened for one that is about to be written.
    return (
      record.inFlight === 0 &&
      record.requests > 0 &&
      (now - record.idleSince > affordableMs || (doubted !== null && record.requests >= doubted)) &&
      !record.socket.destroyed
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
      this.#reportEvicted(1, 0, record.addressGone ? 'address-gone' : 'lifetime')
      return
    }
    const delay = this.#retireDelay(record, now)
    if (delay !== null) this.#armRetirement(record, delay)
  }

  /**
   * An HTTP/2 session took a stream. Busy sessions never go idle, so `release` alone would never retire one
   * past its lifetime: from the stream that reaches it, the session takes no new one, and is closed once
   * its last stream ends.
   */
  onStreamWritten(record: TrackedSocket, now: number): void {
    if (!record.draining && this.#pastLifetime(record, now)) this.#drain(record)
  }

  /**
   * A session's server sent GOAWAY. A graceful one (NO_ERROR) while the session was in use says how many
   * streams the server takes per session (see `OriginLessons.onSessionEnded`); one after an idle gap is the
   * server's idle close (sent while idle, or in answer to the first stream after it), and says nothing about that.
   */
  readonly onSessionGoaway = (record: TrackedSocket, errorCode: number, lastStreamId: number): void => {
    const now = performance.now()
    const streams = streamsTakenBefore(lastStreamId)
    if (errorCode !== 0 || streams < 2) return
    const idleMs = record.busy ? record.idleBeforeLastWriteMs : now - record.idleSince
    if (idleMs > IDLE_FLOOR_MS) return
    const limit = this.#lessons.onSessionEnded(streams, now)
    if (limit !== null) this.#applyRequestLimit(limit, now)
  }

  /** A reused socket idle `idleMs`, after `completed` requests, got its response. */
  onSuccessfulReuse(idleMs: number, completed: number, now: number): void {
    const change = this.#lessons.onSuccessfulReuse(idleMs, completed, now)
    if (change) this.#applyLimit(change, 'successful-reuses', now)
  }

  /**
   * A reused socket idle for `idleMs` died before any response byte: it is counted and learned from, and its
   * siblings go too. Siblings idle about as long are almost surely dead (sockets pooled by one burst go idle
   * within milliseconds of each other), so every socket idle at least half as long, or past the newly learned
   * limit, is closed now: the next requests after this idle gap must not each discover a dead socket. Not
   * after a socket that was hardly idle (a request limit, a restart), and nothing is learned from an incident
   * (`OriginLessons`). `writtenMsAgo`: how long before the failure the request was written.
   */
  recordStaleFailure(failed: TrackedSocket, idleMs: number, writtenMsAgo: number, now: number): void {
    this.counters.staleFailures++
    const death: Death = {
      connection: failed,
      openedAt: failed.openedAt,
      idleMs,
      // The attempt that died is counted in `requests`; the requests it had answered are the others.
      completed: failed.requests - 1,
      writtenMsAgo,
    }
    const lesson = this.#lessons.onStaleFailure(death, now)
    if (idleMs > IDLE_FLOOR_MS) this.#evictIdle(Math.min(idleMs / 2, this.idleLimitMs), now, failed, 'stale-failure')
    if (lesson.kind === 'nothing') return
    if (lesson.kind === 'incident') {
      this.#reportIncident()
      if (lesson.idleChange) this.#applyLimit(lesson.idleChange, 'incident', now)
      return
    }
    if (lesson.requestLimit !== null) this.#applyRequestLimit(lesson.requestLimit, now)
    if (lesson.idleChange) this.#applyLimit(lesson.idleChange, 'stale-failure', now)
  }

  /** The origin refused or failed a connection: with deaths beside it, an incident. */
  #onConnectFailure(now: number): void {
    const lesson = this.#lessons.onConnectFailure(now)
    if (lesson === null || lesson.kind !== 'incident') return
    this.#reportIncident()
    if (lesson.idleChange) this.#applyLimit(lesson.idleChange, 'incident', now)
  }

  #reportIncident(): void {
    reportIncident({ origin: this.key })
  }

  #applyLimit(change: IdleLimitChange, reason: IdleLimitEvent['reason'], now: number): void {
    reportIdleLimit({ origin: this.key, previousMs: change.previousMs, limitMs: change.limitMs, reason })
    // A limit that rose (an incident taken back, quiet reuses) leaves the sockets alone.
    if (change.limitMs < change.previousMs) this.#evictIdle(change.limitMs, now, null, 'idle-limit')
    for (const record of this.sockets) {
      if (record.busy || record.requests === 0) continue
      const delay = this.#retireDelay(record, now)
      if (delay === null) this.#disarmRetirement(record)
      else this.#armRetirement(record, delay)
    }
  }

  #applyRequestLimit(limit: number, now: number): void {
    reportRequestLimit({ origin: this.key, limit })
    for (const record of this.sockets) {
      if (record.requests === 0 || !this.#pastLifetime(record, now)) continue
      if (record.busy) {
        if (record.multiplexed) this.#drain(record)
        continue
      }
      this.#destroy(record)
      this.#reportEvicted(1, 0, 'lifetime')
    }
  }

  /**
   * The connection takes no new request and is closed once its last one ends (in `release`). An HTTP/1.1
   * one carries one request at a time, so `release` comes before undici can write another; an HTTP/2
   * session's Client is set to one stream, which it has, so its Pool and the sharing see it busy.
   */
  #drain(record: TrackedSocket): void {
    record.draining = true
    const client = record.client
    if (!record.multiplexed || client === null) return
    // Not from inside undici's write (this runs in a handler's `onConnect`): the setter resumes the Client.
    queueMicrotask(() => {
      if (client.socket === record && !client.closed && !client.destroyed) client.pipelining = 1
    })
  }

  /** Past its age or any request limit (configured, learned, announced). Runs once per request: no allocation. */
  #pastLifetime(record: TrackedSocket, now: number): boolean {
    if (record.draining || (record.retireAt !== null && now >= record.retireAt)) return true
    const { requests } = record
    const configured = this.options.maxRequestsPerConnection
    const learned = this.#lessons.learnedRequestLimit(now)
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
    const learned = this.#lessons.learnedIdleLimitMs
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

  /**
   * The origin's name was looked up again: its connections to addresses no longer in the answer take no new
   * request; the idle ones close now, the busy ones when their last request ends (`release`).
   */
  #onAddresses(addresses: ReadonlySet<string>): void {
    let closed = 0
    for (const record of this.sockets) {
      const address = record.socket.remoteAddress
      if (!record.followsName || address === undefined || addresses.has(address) || record.socket.destroyed) continue
      record.addressGone = true
      if (record.busy) {
        if (!record.draining) this.#drain(record)
        continue
      }
      this.#destroy(record)
      closed++
    }
    this.#reportEvicted(closed, 0, 'address-gone')
  }

  /**
   * A connection this origin's requests go out on, opened by its connector or by a node:http agent of the
   * same installation: from now on it is counted, retired, evicted and learned from like every other.
   * `followsName`: it was connected to an address the origin's own lookup gives (false for an agent's, which
   * resolves and proxies by itself), so the refresh of that lookup applies to it.
   */
  adopt(socket: Socket, followsName = true): TrackedSocket {
    const record = new TrackedSocket(socket, performance.now(), this.options.maxConnectionAge)
    record.followsName = followsName
    this.counters.socketsOpened++
    this.sockets.add(record)
    trackSocket(record)
    if (followsName) this.addressRefresh?.start()
    socket.once('close', () => {
      this.#disarmRetirement(record)
      this.sockets.delete(record)
      if (this.sockets.size === 0) this.addressRefresh?.stop()
    })
    return record
  }
}
