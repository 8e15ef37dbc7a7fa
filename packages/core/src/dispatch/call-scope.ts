import type { StaleguardLogger } from '../observe/events.js'

/**
 * The contract between a dispatcher and the request scope its calls are made for. Calls check in when they
 * start and out when they are over; meanwhile the scope may abort them (client disconnect, timeout).
 */
export interface CallScope {
  enter(call: AbortableCall): void
  leave(call: AbortableCall): void
}

/** A call the scope can abort: staleguard's own handler, or the wrapper for a borrowed dispatcher. */
export interface AbortableCall {
  abort(reason: Error): void
}

/** A call scope that also names the incoming request, for staleguard's logs and diagnostics. */
export interface DispatchScope extends CallScope {
  readonly requestId: string | undefined
  readonly logger: StaleguardLogger | undefined
}
