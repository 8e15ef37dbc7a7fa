import type { ClientRequest } from 'node:http'
import type { OriginState } from '../dispatch/origin-state.js'
import type { TrackedSocket } from '../dispatch/tracked-socket.js'
import type { AgentRetry } from './agent-retry.js'

/** A connection of an agent's origin, found from its socket by a property of its own (a WeakMap costs more per request). */
export interface AgentConnection {
  readonly record: TrackedSocket
  readonly origin: OriginState
  /** How long it may stay idle this time (the origin's limit, the server's hint), set as it goes idle. */
  keepMs: number
  /** The watch of the request on it now (set as it is handed the socket), or null. */
  running: RequestWatch | null
}

/** How a watched request may be sent again: through the agent that takes it on a new connection. */
export type RetryRoute = Pick<AgentRetry, 'agent' | 'protocol'>

/**
 * What staleguard knows of one request of a staleguard node:http agent, from the socket it gets to its end:
 * the books the dispatcher's handler keeps for fetch (the socket's idle time and request count, what a
 * successful reuse proves, the server's `Keep-Alive: max=`; on a failure, `failRequest`). `attempt` is 2 for
 * the one retry an integration sends.
 */
export class RequestWatch {
  /** The request, until it is over: a finished watch (an origin's last scout) keeps no request alive. */
  req: ClientRequest | null
  readonly origin: OriginState
  readonly attempt: number
  readonly route: RetryRoute
  record: TrackedSocket | null = null
  connection: AgentConnection | null = null
  reused = false
  idleMs: number | null = null
  bytesReadAtStart = 0
  requestsBefore = 0
  writtenAt = 0
  /** While the agent places it (synchronously), the moment it was placed: the clock read once. Else −1. */
  placedAt = -1
  failed = false
  finished = false

  constructor(req: ClientRequest, origin: OriginState, attempt: number, route: RetryRoute) {
    this.req = req
    this.origin = origin
    this.attempt = attempt
    this.route = route
  }
}
