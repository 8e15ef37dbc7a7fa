/** Plain counters, kept per origin and summed on demand so the request path touches one object. */
export interface StaleguardCounters {
  /** Requests dispatched (a retried request counts once). */
  requests: number
  /** Attempts sent on a socket that had carried an earlier request. */
  reusedRequests: number
  /** Attempts that died on a reused socket before any response byte: the stale-socket failure. */
  staleFailures: number
  /** Re-sends made on a new connection. */
  retries: number
  /** Retries that got a response. */
  retriesSucceeded: number
  /** Retries the budget refused. */
  retriesDeniedByBudget: number
  /** Requests that ended in an error handed to the caller, for any reason. */
  failedRequests: number
  /** Connections opened. */
  socketsOpened: number
  /** Idle sockets closed by staleguard (after a stale failure, past a learned idle limit, for a request that cannot be replayed). */
  socketsEvicted: number
  /**
   * Requests that cannot be replayed (a method not safe to send twice without an Idempotency-Key, a stream
   * body) sent on a new connection where the pool would have reused an idle socket, because that socket had
   * been idle longer than the origin has proven safe: what `protectUnreplayable` costs. A new connection the
   * pool would have opened as well (its first free Client had no socket) is not counted.
   */
  unreplayableOnNewConnection: number
}

export function emptyCounters(): StaleguardCounters {
  return {
    requests: 0,
    reusedRequests: 0,
    staleFailures: 0,
    retries: 0,
    retriesSucceeded: 0,
    retriesDeniedByBudget: 0,
    failedRequests: 0,
    socketsOpened: 0,
    socketsEvicted: 0,
    unreplayableOnNewConnection: 0,
  }
}

export function addCounters(into: StaleguardCounters, from: StaleguardCounters): void {
  for (const key of Object.keys(into) as (keyof StaleguardCounters)[]) into[key] += from[key]
}
