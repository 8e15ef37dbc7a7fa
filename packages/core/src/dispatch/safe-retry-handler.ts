import type { Dispatcher } from 'undici'
import { attachDiagnostics, explain } from '../observe/diagnostics.js'
import { type StaleFailureFacts, reportRetry, reportRetryOutcome, reportStaleFailure } from '../observe/events.js'
import { RecordedBody } from '../retry/recorded-body.js'
import {
  type BodyReplay,
  type BodySourceOptions,
  classifyBody,
  hasIdempotencyKey,
  isIterableBody,
  kBodySource,
} from '../retry/request-safety.js'
import { type RetryDecision, classifyFailure, retryDecisionFor } from '../retry/retry-decision.js'
import { hasStaleSocketShape } from '../retry/stale-errors.js'
import { keepAliveMaxOf } from '../http/keep-alive-hint.js'
import type { DispatchScope } from './call-scope.js'
import type { CallbackHandler } from './handler-bridge.js'
import type { OriginState } from './origin-state.js'
import { type PairingClient, type PairsWithClient, kPairWithClient } from './pairing-client.js'
import { nextStreamIdOn, streamWasUnprocessed } from './http2-session.js'
import type { TrackedSocket } from './tracked-socket.js'
import type { SocketNeed } from './client-choice.js'
import { IDEMPOTENT_METHODS, type ResolvedOriginOptions } from '../config/options.js'
import { copyOfOptions } from '../http/options-copy.js'

type IdempotencyHeaders = Parameters<typeof hasIdempotencyKey>[0]
/** Thrown from `onConnect` to keep a request that cannot be replayed off a suspect socket (see there). */
class MovedUnwritten extends Error {
  constructor() {
    super('staleguard: moved to a new connection before it was written')
  }
}
/** Thrown from `onConnect` to keep a request off an HTTP/2 session that took its last stream (see there). */
class SessionDraining extends Error {
  constructor() {
    super('staleguard: moved off a session that takes no new stream, before it was written')
  }
}
/** A request undici was about to write again after the connection it ran on ended (see `onConnect`). */
class EndedUnderIt extends Error {
  readonly code = 'UND_ERR_SOCKET'
  constructor() {
    super('staleguard: the connection this request was written on ended before its response (not written again)')
  }
}
/** What a method alone allows when retries are off (`retry: false` leaves no list of its own). */
const IDEMPOTENT: ReadonlySet<string> = new Set(IDEMPOTENT_METHODS)

/**
 * What a handler is handed by the dispatcher that owns it, as undici's RetryHandler is handed `dispatch`:
 * a way to send an attempt on a new connection, and whether that is still allowed.
 */
export interface RetryConnections {
  /**
   * Sends an attempt on a connection opened for it: through `failedOn`, the Client whose socket the attempt
   * before it died on (or was moved off), when that Client is still its pool's and its socket is gone, so the
   * new connection takes that one's place and the pool opens no more than it would have; else on a Client of
   * its own.
   */
  dispatchOnNewConnection(
    origin: OriginState,
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
    failedOn: PairingClient | null,
  ): void
  /** Closing or destroyed: no new connection may be opened for a retry. */
  isClosing(): boolean
}

/**
 * One logical request, across its attempts. It sits between undici and the caller's handler, learns
 * which socket each attempt used, and when an attempt dies on a stale reused socket before any response
 * byte, re-sends it on a new connection if (and only if) that is safe. The caller sees one request: one
 * `onConnect`, the response of the attempt that succeeded, or the final error with diagnostics attached.
 */
export class SafeRetryHandler implements CallbackHandler, PairsWithClient {
  readonly #connections: RetryConnections
  readonly #origin: OriginState
  readonly #downstream: CallbackHandler
  readonly #scope: DispatchScope | undefined
  readonly #options: Dispatcher.DispatchOptions
  readonly #bodyReplay: BodyReplay
  /** The method is safe to send twice, or an Idempotency-Key says the server makes it so. */
  readonly #safeToSendTwice: boolean
  #body: RecordedBody | null = null
  /** Options for the first attempt (the recorded body stands in for a one-shot iterable). */
  readonly firstAttemptOptions: Dispatcher.DispatchOptions
  /** The sockets this request may be written on (see {@link SocketNeed}). */
  readonly socketNeed: SocketNeed

  /** The attempt running now, 1-based. */
  #attempt = 1
  /** Attempts the server turned away unprocessed (HTTP/2): they do not count against `maxRetries`. */
  #unprocessed = 0
  /** The Client the current attempt was handed to, until `onConnect` reads its socket, which carries the attempt. */
  #client: PairingClient | null = null
  /** The Client the current attempt went to, for the whole attempt: a retry may reconnect through it. */
  #attemptClient: PairingClient | null = null
  #abortAttempt: ((reason?: Error) => void) | null = null
  #aborted = false
  #abortReason: Error | undefined
  #started = false
  #socket: TrackedSocket | null = null
  /** HTTP/2: the stream id this attempt is written as. */
  #streamId: number | null = null
  #reused = false
  /** Requests the socket had carried before this attempt, and when this attempt was written on it. */
  #requestsBefore = 0
  #writtenAt = 0
  #idleMs: number | null = null
  #bytesReadAtStart = 0
  #responseStarted = false
  #requestSent = false
  #finished = false
  /** When the running retry took its share of the budget (null: none taken), to give it back on success. */
  #budgetTakenAt: number | null = null
  #link: { handler: SafeRetryHandler | null } | null = null
  /** The suspect socket the attempt was kept off (`MovedUnwritten`), closed so that its Client reconnects. */
  #suspect: TrackedSocket | null = null

  constructor(
    connections: RetryConnections,
    origin: OriginState,
    options: Dispatcher.DispatchOptions,
    downstream: CallbackHandler,
    scope: DispatchScope | undefined,
  ) {
    this.#connections = connections
    this.#origin = origin
    this.#downstream = downstream
    this.#scope = scope
    this.#options = options
    const retry = origin.options.retry
    this.#bodyReplay =
      retry === null || options.body == null
        ? 'reusable'
        : classifyBody(
            options.body,
            options.headers,
            retry.maxReplayBodyBytes,
            (options as BodySourceOptions)[kBodySource],
          )
    // With retries off (`retry: false`) the method and key still say what a request is, by the default list.
    const safeByMethodOrKey =
      (retry?.methods ?? IDEMPOTENT).has(this.#method()) || hasIdempotencyKey(options.headers as IdempotencyHeaders)
    const safeToSendTwice = retry !== null && safeByMethodOrKey
    this.#safeToSendTwice = safeToSendTwice
    // On an HTTP/2 origin any method may go again (a stream the server never processed), so its body is kept.
    const replayable = this.#bodyReplay === 'recordable' && (safeToSendTwice || origin.mayMultiplex)
    // A stream is never replayed, but it is watched all the same: when its own source fails (a proxied
    // upload aborted by its client), the failure is the body's, not the socket's.
    if (replayable || (retry !== null && this.#bodyReplay === 'stream' && isIterableBody(options.body))) {
      this.#body = new RecordedBody(options.body as AsyncIterable<unknown>)
      if (!replayable) this.#body.stopRecording()
      this.firstAttemptOptions = this.#withRecordedBody(options)
    } else {
      this.firstAttemptOptions = options
    }
    this.socketNeed = socketNeedOf(
      origin.options,
      safeByMethodOrKey &&
        (this.#bodyReplay === 'reusable' || (this.#bodyReplay === 'recordable' && this.#body !== null)),
    )
    scope?.enter(this)
  }

  /**
   * Aborts the request, whichever attempt is running: called by the request scope on disconnect, and by the
   * caller through the function {@link #callerAbort} hands it (so it follows the request across attempts).
   */
  abort(reason?: Error): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#abortReason = reason
    this.#abortAttempt?.(reason)
  }

  /**
   * The abort function the caller gets. fetch keeps it on its controller, which its Response keeps for V8's
   * full collections only (a FinalizationRegistry entry): long after the response. Bound to this handler, it
   * would drag the handler, its options and header list into the old generation on every request, so the
   * function reaches the handler only until the request is over (`caller-abort.test.ts`).
   */
  #callerAbort(): (reason?: Error) => void {
    const link: { handler: SafeRetryHandler | null } = { handler: this }
    this.#link = link
    return (reason) => link.handler?.abort(reason)
  }

  onConnect(abort: (reason?: Error) => void, context?: object): void {
    this.#abortAttempt = abort
    if (this.#aborted) {
      abort(this.#abortReason)
      return
    }
    if (!this.#started) {
      this.#started = true
      this.#downstream.onConnect?.(this.#callerAbort(), context)
      if (this.#aborted) return
    }
    // undici is writing this attempt a second time: undici 7 puts the requests running on a connection that
    // ended (an HTTP/2 GOAWAY, a pipelined HTTP/1.1 socket's close) back in its queue and sends them again on
    // the next, processed or not. Thrown here it goes unwritten, and `onError` decides as for any failure.
    if (this.#socket !== null) throw new EndedUnderIt()
    // undici writes the request right after this, on the socket its Client holds now.
    const record = this.#client?.socket
    this.#client = null
    if (record == null) return
    // The last word before the write, past any race with the choice of Client (undici waits a turn of the
    // event loop before reusing a socket): thrown here, undici fails the request unwritten, socket and body
    // untouched, and `onError` sends it on a new connection.
    // A session that took its last stream (past its lifetime, see `OriginState.onStreamWritten`) may still be
    // handed one in the same turn, before its Client is set to look busy: it goes to another session instead.
    if (record.draining && record.multiplexed) throw new SessionDraining()
    if (this.socketNeed === 'proven' && this.#origin.suspects(record, performance.now())) {
      this.#suspect = record
      throw new MovedUnwritten()
    }
    this.#onSocket(record)
  }

  [kPairWithClient](client: PairingClient): void {
    this.#client = client
    this.#attemptClient = client
  }

  #onSocket(record: TrackedSocket): void {
    const now = performance.now()
    this.#socket = record
    this.#reused = record.requests > 0
    // Whole ms: what logs, events and diagnostics show, and finer than any idle limit.
    // A session with streams running is not idle, whenever it last was: its new stream rides a live session.
    this.#idleMs = this.#reused ? (record.inFlight > 0 ? 0 : Math.round(now - record.idleSince)) : null
    record.idleBeforeLastWriteMs = this.#idleMs ?? 0
    this.#bytesReadAtStart = record.socket.bytesRead
    this.#streamId = record.multiplexed ? nextStreamIdOn(record, this.#origin.onSessionGoaway) : null
    this.#requestsBefore = record.requests
    this.#writtenAt = now
    record.requests++
    record.inFlight++
    if (record.multiplexed) this.#origin.onStreamWritten(record, now)
    if (this.#reused) this.#origin.counters.reusedRequests++
  }

  onResponseStarted(): void {
    this.#downstream.onResponseStarted?.()
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    // A retry sends the body again; the caller's progress counts one upload.
    if (this.#attempt === 1) this.#downstream.onBodySent?.(chunkSize, totalBytesSent)
  }

  onRequestSent(): void {
    if (this.#requestSent) return
    this.#requestSent = true
    this.#downstream.onRequestSent?.()
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    if (!this.#responseStarted) {
      this.#responseStarted = true
      // No replay from here on, but the upload may still be running: servers answer before reading it all.
      this.#body?.stopRecording()
      if (this.#attempt > 1) this.#retrySucceeded(statusCode)
      if (this.#reused && this.#idleMs !== null)
        this.#origin.onSuccessfulReuse(this.#idleMs, this.#requestsBefore, performance.now())
      this.#noteServerRequestLimit(headers)
    }
    return this.#downstream.onHeaders?.(statusCode, headers, resume, statusText) ?? true
  }

  onData(chunk: Buffer): boolean {
    return this.#downstream.onData?.(chunk) ?? true
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    this.#releaseSocket()
    this.#finish()
    this.#downstream.onComplete?.(trailers)
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: import('node:stream').Duplex): void {
    this.#responseStarted = true
    // The socket now belongs to the caller (WebSocket, CONNECT tunnel): never treat it as idle again.
    this.#socket = null
    this.#finish()
    this.#downstream.onUpgrade?.(statusCode, headers, socket)
  }

  onError(error: Error): void {
    if (error instanceof MovedUnwritten) {
      this.#moveToNewConnection()
      return
    }
    if (error instanceof SessionDraining) {
      this.#client = null
      this.#dispatchOnNewConnection()
      return
    }
    this.#client = null
    const failed = this.#socket
    this.#releaseSocket()
    const now = performance.now()
    const { decision, stale } = this.#decide(error, failed, now)
    const facts = this.#facts(error, decision)
    // A retry that failed too says so (NODE_DEBUG), before the line for its failure.
    if (this.#attempt > 1) reportRetryOutcome(facts)
    // The failure is reported before what it teaches the origin (`#learn`), so the stale line and event come
    // first, then the evictions and the idle-limit change it caused.
    if (decision === 'retried') {
      reportStaleFailure(facts, this.#scope?.logger, null)
      if (stale) this.#learn(failed as TrackedSocket, now)
      this.#retry(error)
      return
    }
    this.#finish()
    this.#origin.counters.failedRequests++
    const explanation = explain(facts)
    const explained = attachDiagnostics(error, { ...facts, explanation })
    if (facts.staleSocketError && decision !== 'aborted') reportStaleFailure(facts, this.#scope?.logger, explanation)
    if (stale) this.#learn(failed as TrackedSocket, now)
    if (!this.#downstream.onError) throw explained
    this.#downstream.onError(explained)
  }

  /** Whether the failed attempt goes again, and whether the origin learns from it (`stale`, see `#learn`). */
  #decide(error: Error, failed: TrackedSocket | null, now: number): { decision: RetryDecision; stale: boolean } {
    // 1. What the failure is, from what this attempt saw.
    const kind = classifyFailure({
      aborted: this.#aborted,
      bodyFailed: this.#body !== null && this.#body.failure !== undefined,
      staleSocketError: hasStaleSocketShape(error),
      reused: this.#reused && failed !== null,
      // Partial headers count: `bytesRead` moving since the request was written means the server answered.
      // Not on an HTTP/2 session, whose bytes are other streams' frames too (a GOAWAY among them).
      responseStarted:
        this.#responseStarted ||
        (failed !== null && !failed.multiplexed && failed.socket.bytesRead > this.#bytesReadAtStart),
      unprocessed:
        (failed?.multiplexed === true && streamWasUnprocessed(failed, this.#streamId, error)) ||
        this.#failedUnwrittenOnEndedSession(failed),
      endedByGoaway: failed?.multiplexed === true && failed.goawayLastStreamId !== null,
    })
    if (kind !== 'stale' && kind !== 'unprocessed' && kind !== 'goaway') return { decision: kind, stale: false }

    // 2. Whether a stale failure teaches the origin, whatever happens to this request (`#learn`, once the
    // failure is reported). An unprocessed stream on a session that had been idle is such a failure too; one
    // refused on a busy session is not.
    // A stream a GOAWAY let finish, which undici 7 failed all the same, says nothing of the session's idle.
    const stale =
      kind === 'stale' ||
      (kind === 'unprocessed' &&
        this.#reused &&
        failed !== null &&
        hasStaleSocketShape(error) &&
        failed.goawayLastStreamId === null)

    // 3. Whether it may go again. (Nothing here depends on what the origin learns in step 2.)
    const budget = this.#origin.budget
    // Turned away or ended by the server's GOAWAY: not a failure of the socket, so not one of `maxRetries`.
    const turnedAway = kind === 'unprocessed' || kind === 'goaway'
    if (turnedAway) this.#unprocessed++
    const decision = retryDecisionFor({
      retry: this.#origin.options.retry,
      attempt: this.#attempt - this.#unprocessed,
      unprocessedAttempts: turnedAway ? this.#unprocessed : 0,
      safeToSendTwice: kind === 'unprocessed' || this.#safeToSendTwice,
      // A recordable body nobody recorded (not meant to be replayed) is gone like a stream.
      body: this.#bodyReplay === 'recordable' && this.#body === null ? 'stream' : this.#bodyReplay,
      closing: this.#connections.isClosing(),
      takeFromBudget: () => {
        // The first re-send of a stream the server said it never processed is free: the server asked for it
        // (a refusal costs it next to nothing), and a cold burst against a server that refuses some streams
        // would otherwise spend a quiet origin's budget at once. Refused again, it pays like any retry.
        if (budget === null || (kind === 'unprocessed' && this.#unprocessed === 1)) return true
        if (!budget.tryTakeRetry(now)) return false
        this.#budgetTakenAt = now
        return true
      },
    })
    if (decision === 'budget-exhausted') this.#origin.counters.retriesDeniedByBudget++
    return { decision, stale }
  }

  /**
   * The attempt was queued on a Client whose HTTP/2 session died before undici wrote it, and undici failed it
   * with the session's error: it never left, so it may go again like a stream the server turned away.
   */
  #failedUnwrittenOnEndedSession(failed: TrackedSocket | null): boolean {
    if (failed !== null) return false
    const record = this.#attemptClient?.socket
    return record?.multiplexed === true && record.socket.destroyed
  }

  /**
   * What a stale failure teaches the origin: it is counted, the idle limit learns from it, and the idle
   * sockets that must be as dead are closed. Before `#retry`, which forgets this attempt's idle time.
   */
  #learn(failed: TrackedSocket, now: number): void {
    this.#origin.recordStaleFailure(failed, this.#idleMs ?? 0, now - this.#writtenAt, now)
  }

  /** The server's own word on how many more requests this connection takes (`Keep-Alive: max=`). */
  #noteServerRequestLimit(headers: Buffer[]): void {
    const socket = this.#socket
    if (socket === null) return
    const max = keepAliveMaxOf(headers)
    if (max !== null) socket.serverRequestLimit = socket.requests + max
  }

  #retrySucceeded(statusCode: number): void {
    this.#origin.counters.retriesSucceeded++
    reportRetryOutcome({
      origin: this.#origin.key,
      method: this.#method(),
      path: this.#options.path,
      attempt: this.#attempt,
      statusCode,
    })
    if (this.#budgetTakenAt === null) return
    this.#origin.budget?.refundRetry(this.#budgetTakenAt, performance.now())
    this.#budgetTakenAt = null
  }

  /** Not written on the suspect socket it was about to take: the same attempt, on a connection of its own. */
  #moveToNewConnection(): void {
    const suspect = this.#suspect
    this.#suspect = null
    if (suspect !== null && !suspect.busy && !suspect.socket.destroyed) this.#origin.retireSuspect(suspect)
    this.#origin.noteUnreplayableOnNewConnection(this.#options.method, this.#options.path)
    this.#dispatchOnNewConnection()
  }

  #dispatchOnNewConnection(): void {
    const failedOn = this.#attemptClient
    this.#attemptClient = null
    this.#connections.dispatchOnNewConnection(
      this.#origin,
      this.#attemptOptions(),
      this as Dispatcher.DispatchHandler,
      failedOn,
    )
  }

  /** A fresh iterable over the recorded body for each attempt; the options as given otherwise. */
  #attemptOptions(): Dispatcher.DispatchOptions {
    return this.#body === null ? this.#options : this.#withRecordedBody(this.#options)
  }

  #withRecordedBody(options: Dispatcher.DispatchOptions): Dispatcher.DispatchOptions {
    const attempt = copyOfOptions(options)
    attempt.body = this.#body!.attempt() as Dispatcher.DispatchOptions['body']
    return attempt
  }

  #retry(error: Error): void {
    const idleMs = this.#idleMs
    this.#attempt++
    this.#origin.counters.retries++
    this.#reused = false
    this.#idleMs = null
    this.#responseStarted = false
    reportRetry(
      {
        origin: this.#origin.key,
        method: this.#method(),
        path: this.#options.path,
        idleMs,
        attempt: this.#attempt,
        requestId: this.#scope?.requestId,
        error,
      },
      this.#scope?.logger,
    )
    this.#dispatchOnNewConnection()
  }

  #facts(error: Error, retryDecision: RetryDecision): StaleFailureFacts {
    return {
      origin: this.#origin.key,
      method: this.#method(),
      path: this.#options.path,
      reused: this.#reused,
      idleMs: this.#idleMs,
      attempt: this.#attempt,
      staleSocketError: hasStaleSocketShape(error),
      retryDecision,
      requestId: this.#scope?.requestId,
      error,
    }
  }

  #method(): string {
    return (this.#options.method ?? 'GET').toUpperCase()
  }

  #releaseSocket(): void {
    const record = this.#socket
    if (record === null) return
    this.#socket = null
    this.#origin.release(record, performance.now())
  }

  /** The request is over, for good: no attempt follows. (Once only: a caller's onComplete that throws comes back as onError.) */
  #finish(): void {
    if (this.#finished) return
    this.#finished = true
    if (this.#link !== null) this.#link.handler = null
    this.#releaseBody()
    this.#origin.inFlight--
    this.#scope?.leave(this)
  }

  #releaseBody(): void {
    if (this.#body === null) return
    this.#body.release()
    this.#body = null
  }
}

/**
 * A request that cannot be replayed needs a socket proven safe; one that can, and would be retried after a
 * stale failure, may scout a suspect socket. With retries off, a request that could be replayed (a GET) takes
 * the pool's pick as undici's would: nothing would save it on a suspect. Protection off: the pool's pick.
 */
function socketNeedOf(options: ResolvedOriginOptions, replayable: boolean): SocketNeed {
  if (!options.protectUnreplayable) return 'any'
  if (!replayable) return 'proven'
  return options.retry === null ? 'any' : 'scout'
}
