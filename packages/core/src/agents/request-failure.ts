import type { ClientRequest } from 'node:http'
import { IDEMPOTENT_METHODS } from '../config/options.js'
import type { OriginState } from '../dispatch/origin-state.js'
import type { TrackedSocket } from '../dispatch/tracked-socket.js'
import { attachDiagnostics, explain } from '../observe/diagnostics.js'
import { type StaleFailureFacts, reportRetry, reportRetryOutcome, reportStaleFailure } from '../observe/events.js'
import { type RetryDecision, classifyFailure, retryDecisionFor } from '../retry/retry-decision.js'
import { hasStaleSocketShape } from '../retry/stale-errors.js'
import { type AgentRetry, attachAgentRetry } from './agent-retry.js'
import type { RequestWatch } from './watched-request.js'

/**
 * A request failed: what it was (the dispatcher's classification), what the origin learns from it, the
 * diagnostics on the error, and, for a stale reused socket and a request safe to send twice, the retry the
 * client's integration may send (`left-to-client`).
 */
export function failRequest(req: ClientRequest, watch: RequestWatch, error: Error): void {
  const { origin, attempt, record: failed, reused, idleMs } = watch
  const method = req.method
  watch.failed = true
  const now = performance.now()
  const staleShape = hasStaleSocketShape(error)
  const kind = classifyFailure({
    aborted: failed !== null && destroyedByCaller(error, failed),
    bodyFailed: false,
    staleSocketError: staleShape,
    reused: reused && failed !== null,
    // Partial headers count: the server answered, so it processed the request.
    responseStarted:
      (req as { res?: unknown }).res != null || (failed !== null && failed.socket.bytesRead > watch.bytesReadAtStart),
    unprocessed: false,
  })
  const decision: RetryDecision =
    kind !== 'stale'
      ? (kind as RetryDecision)
      : leftToClient(
          retryDecisionFor({
            // Once, whatever `retry.maxRetries` says: a retry that fails stale too is not sent a third time.
            retry: origin.options.retry,
            attempt: attempt > 1 ? Number.POSITIVE_INFINITY : attempt,
            safeToSendTwice: isSafeToSendTwice(req, origin),
            // The client knows its body; its integration checks that it can be sent again.
            body: 'reusable',
            closing: false,
            // Taken when the integration sends it (`AgentRetry.sending`): a client without one spends none.
            takeFromBudget: () => true,
          }),
        )
  const facts: StaleFailureFacts = {
    origin: origin.key,
    method,
    path: req.path,
    reused,
    idleMs,
    attempt,
    staleSocketError: staleShape,
    retryDecision: decision,
    requestId: undefined,
    error,
  }
  if (attempt > 1) reportRetryOutcome(facts)
  if (decision === 'left-to-client') attachAgentRetry(error, retryOf(watch, facts))
  else origin.counters.failedRequests++
  const explanation = explain(facts)
  attachDiagnostics(error, { ...facts, explanation })
  if (staleShape && decision !== 'aborted') reportStaleFailure(facts, undefined, explanation)
  if (kind === 'stale' && failed !== null) origin.recordStaleFailure(failed, idleMs ?? 0, now - watch.writtenAt, now)
}

function retryOf(watch: RequestWatch, facts: StaleFailureFacts): AgentRetry {
  let sent: boolean | null = null
  return {
    agent: watch.route.agent,
    protocol: watch.route.protocol,
    method: facts.method,
    sending() {
      if (sent !== null) return sent
      const budget = watch.origin.budget
      sent = budget === null || budget.tryTakeRetry(performance.now())
      if (!sent) {
        watch.origin.counters.retriesDeniedByBudget++
        return false
      }
      watch.origin.counters.retries++
      const { origin, method, path, idleMs, error } = facts
      reportRetry({ origin, method, path, idleMs, attempt: watch.attempt + 1, requestId: undefined, error }, undefined)
      return true
    },
  }
}

/**
 * node:http says `socket hang up` for a request whose caller destroyed it (an abort, the client's own
 * timeout) as for one whose socket the server closed; only the latter saw the server's FIN first. A reset
 * arrives as the socket's own `ECONNRESET`, a write on a closed socket as `EPIPE`.
 */
function destroyedByCaller(error: Error, failed: TrackedSocket): boolean {
  return error.message === 'socket hang up' && !failed.socket.readableEnded
}

/** `retried` in the dispatcher's words is what the agent leaves to the client's integration. */
function leftToClient(decision: RetryDecision): RetryDecision {
  return decision === 'retried' ? 'left-to-client' : decision
}

/** The dispatcher's rule: an idempotent method (the origin's `retry.methods`), or an `Idempotency-Key` header. */
export function isSafeToSendTwice(req: ClientRequest, origin: OriginState): boolean {
  if ((origin.options.retry?.methods ?? IDEMPOTENT).has(req.method)) return true
  return req.getHeader('idempotency-key') !== undefined || req.getHeader('x-idempotency-key') !== undefined
}

/** With retries off the origin has no method list; what is safe to send twice does not change. */
const IDEMPOTENT: ReadonlySet<string> = new Set(IDEMPOTENT_METHODS)
