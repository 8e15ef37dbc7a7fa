import type { ResolvedRetry } from '../config/options.js'
import type { BodyReplay } from './request-safety.js'

/**
 * Whether an attempt that failed is sent again, decided in two stages (see `SafeRetryHandler#decide`):
 * first what the failure is, from facts alone; then, for a stale or unprocessed failure only, the limits on
 * sending it again. What the origin learns from the failure is recorded after both, once it is reported.
 */
export type RetryDecision =
  /** The failure was retried on a new connection (seen in events; a caller only sees it if the retry failed too). */
  | 'retried'
  /** Not a stale-socket error (refused, DNS, TLS, timeout, HTTP error…): nothing to do with idle sockets. */
  | 'not-stale'
  /** The socket was new; a failure there may mean the server received the request, so it is not replayed. */
  | 'fresh-connection'
  /** Response bytes had arrived before the failure: the server processed the request. */
  | 'response-started'
  /** Method not safe to send twice and no Idempotency-Key header. */
  | 'not-idempotent'
  /** The body was a stream (or larger than maxReplayBodyBytes) and is gone once sent. */
  | 'body-not-replayable'
  /** The caller aborted. */
  | 'aborted'
  /** The retry budget for this origin was spent: the upstream is failing too often for retries to help. */
  | 'budget-exhausted'
  /** This request already used its retries. */
  | 'retries-exhausted'
  /** Retries are switched off (`retry: false`). */
  | 'retry-disabled'
  /** The dispatcher was closing, so no new connection could be opened for a retry. */
  | 'dispatcher-closed'
  /** The request body's own source failed (an upload being proxied was cut): the socket is not to blame. */
  | 'body-failed'
  /**
   * node:http agents: safe to send again on a new connection, which node:http cannot do itself; the client's
   * staleguard integration (axios, got) does it, once.
   */
  | 'left-to-client'

/** What the handler saw of an attempt that failed. */
export interface FailedAttempt {
  /** The caller or the request scope aborted the request. */
  readonly aborted: boolean
  /** The request body's own source threw (a proxied upload whose client went away reports ECONNRESET too). */
  readonly bodyFailed: boolean
  /** The error has a stale-socket shape (ECONNRESET, EPIPE, UND_ERR_SOCKET, `socket hang up`). */
  readonly staleSocketError: boolean
  /** The attempt was written on a socket that had carried an earlier request. */
  readonly reused: boolean
  /** Any response byte had arrived, partial headers included: the server answered, so it processed the request. */
  readonly responseStarted: boolean
  /**
   * The server said it did not process the request: an HTTP/2 stream above the last-stream-id of a GOAWAY,
   * or refused with REFUSED_STREAM (RFC 9113 §8.7). Any method may go again, on any connection it was on.
   */
  readonly unprocessed: boolean
  /**
   * An HTTP/2 stream failed because its session ended with a GOAWAY, at or below the last-stream-id: the
   * server may have processed it (undici 7 fails such streams instead of letting them finish). Not a stale
   * socket, and nothing to learn from: it goes again only if it is safe to send twice.
   */
  readonly endedByGoaway?: boolean
}

/** What a failure is: `stale` is a dead reused socket before any response byte, the one failure worth a retry. */
export type FailureKind =
  | Extract<RetryDecision, 'aborted' | 'body-failed' | 'not-stale' | 'fresh-connection' | 'response-started'>
  | 'stale'
  | 'unprocessed'
  | 'goaway'

/** Stage one, pure (`unprocessed`, `goaway` and `stale` go on to stage two): the order matters, each answer hides the ones below it. */
export function classifyFailure(attempt: FailedAttempt): FailureKind {
  if (attempt.aborted) return 'aborted'
  if (attempt.bodyFailed) return 'body-failed'
  // The server's own word beats every guess below: it never saw the request.
  if (attempt.unprocessed && !attempt.responseStarted) return 'unprocessed'
  if (attempt.endedByGoaway && !attempt.responseStarted) return 'goaway'
  if (!attempt.staleSocketError) return 'not-stale'
  // A failure on a new connection may mean the server received the request: never replayed.
  if (!attempt.reused) return 'fresh-connection'
  if (attempt.responseStarted) return 'response-started'
  return 'stale'
}

/**
 * A last bound on a request the server keeps turning away (REFUSED_STREAM, a GOAWAY below its id) when no
 * budget stops it first: a server refusing every stream must not keep one request spinning.
 */
export const MAX_UNPROCESSED_ATTEMPTS = 16

/** What limits sending a stale failure again. */
export interface RetryLimits {
  /** The origin's retry settings, or null when retries are off. */
  readonly retry: ResolvedRetry | null
  /** Attempts made so far, the failed one included (those the server never processed left out). */
  readonly attempt: number
  /**
   * The server said it never processed the attempt (`unprocessed`): it goes again until a session takes it,
   * bounded by the budget, the caller's signal and deadline, and `MAX_UNPROCESSED_ATTEMPTS`, not `maxRetries`.
   * `unprocessedAttempts`: how many of the attempts so far the server turned away (or ended with a GOAWAY).
   */
  readonly unprocessedAttempts?: number
  /** The method is safe to send twice, or the request carries an Idempotency-Key. */
  readonly safeToSendTwice: boolean
  readonly body: BodyReplay
  /** The dispatcher is closing: no new connection may be opened. */
  readonly closing: boolean
  /** Takes one retry from the origin's budget, if it has one to give. */
  readonly takeFromBudget: () => boolean
}

/** Stage two, for a stale failure: the first limit that says no, or `retried`. The budget is asked last, so a retry another limit refuses spends none of it. */
export function retryDecisionFor(limits: RetryLimits): RetryDecision {
  if (limits.retry === null) return 'retry-disabled'
  const turnedAway = limits.unprocessedAttempts ?? 0
  if (turnedAway > 0 ? turnedAway >= MAX_UNPROCESSED_ATTEMPTS : limits.attempt > limits.retry.maxRetries)
    return 'retries-exhausted'
  if (!limits.safeToSendTwice) return 'not-idempotent'
  if (limits.body === 'stream' || limits.body === 'too-large') return 'body-not-replayable'
  if (limits.closing) return 'dispatcher-closed'
  if (!limits.takeFromBudget()) return 'budget-exhausted'
  return 'retried'
}
