import type { OriginState } from '../dispatch/origin-state.js'
import type { TrackedSocket } from '../dispatch/tracked-socket.js'
import type { AgentRetry } from './agent-retry.js'

/** How a watched request may be sent again: through the agent that takes it on a new connection. */
export type RetryRoute = Pick<AgentRetry, 'agent' | 'protocol'>

/**
 * What staleguard knows of one request of a staleguard node:http agent, from the socket it gets to its end:
 * the books the dispatcher's handler keeps for fetch (the socket's idle time and request count, what a
 * successful reuse proves, the server's `Keep-Alive: max=`; on a failure, `failRequest`). `attempt` is 2 for
 * the one retry an integration sends.
 */
export class RequestWatch {
  readonly origin: OriginState
  readonly attempt: number
  readonly route: RetryRoute
  record: TrackedSocket | null = null
  reused = false
  idleMs: number | null = null
  bytesReadAtStart = 0
  requestsBefore = 0
  writtenAt = 0
  failed = false
  finished = false

  constructor(origin: OriginState, attempt: number, route: RetryRoute) {
    this.origin = origin
    this.attempt = attempt
    this.route = route
  }
}
