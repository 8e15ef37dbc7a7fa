import type { StaleguardLogger } from '../observe/events.js'

/**
 * The contract between a dispatcher and the request scope its calls are made for. Calls check in when they
 * start and out when they are over; meanwhile the scope may abort them (client disconnect, timeout).
 */
export interface CallScope {
  /** A call starts: the scope may abort it from now on (at once, when the scope was already aborted). */
  enter(call: AbortableCall): void
  /** The call is over: the scope no longer aborts it. */
  leave(call: AbortableCall): void
}

/** A call the scope can abort: staleguard's own handler, or the wrapper for a borrowed dispatcher. */
export interface AbortableCall {
  /** Ends the call with `reason` as its error; it is never retried. */
  abort(reason: Error): void
}

/** A call scope that also names the incoming request, for staleguard's logs and diagnostics. */
export interface DispatchScope extends CallScope {
  /** The incoming request's id, for diagnostics and log lines. */
  readonly requestId: string | undefined
  /** The framework's request logger, if any: retries and unsaved failures are logged through it. */
  readonly logger: StaleguardLogger | undefined
}
