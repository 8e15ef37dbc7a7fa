import type { Socket } from 'node:net'

/** What a connection needs of the undici Client writing on it (a `PairingClient`). */
export interface WritingClient {
  pipelining: number
  readonly closed: boolean
  readonly destroyed: boolean
  readonly socket: TrackedSocket | null
}

/**
 * What staleguard knows about one connection (an HTTP/1.1 socket, or the socket of an HTTP/2 session): how
 * often it was used and since when it has been idle.
 */
export class TrackedSocket {
  readonly socket: Socket
  /** Requests written on this socket so far. */
  requests = 0
  /** Requests on it now: one at most over HTTP/1.1, any number of streams on an HTTP/2 session. */
  inFlight = 0
  idleSince: number
  /** How long it had been idle when its latest request was written (0 for a busy HTTP/2 session). */
  idleBeforeLastWriteMs = 0
  /** When the connection came up. */
  readonly openedAt: number
  retireTimer: NodeJS.Timeout | null = null
  /** When the connection is past its age and is retired once idle (null: no age limit). */
  readonly retireAt: number | null
  /** An HTTP/2 session (ALPN `h2`): many streams at once, and its bytes are not one request's. */
  readonly multiplexed: boolean
  /** HTTP/2: the last stream the server processes, from the GOAWAY that ends the session (null before one). */
  goawayLastStreamId: number | null = null
  /** HTTP/2: whether the session's GOAWAY is listened for already. */
  watchingSession = false
  /** Requests after which the server said it closes the connection (`Keep-Alive: max=`), or null. */
  serverRequestLimit: number | null = null
  /** Takes no new request, and is closed once its last one ends (past its lifetime, or its address left). */
  draining = false
  /** Connected to an address the origin's name no longer resolves to. */
  addressGone = false
  /** Connected to an address of the origin's own lookup: its refresh applies (see `OriginState.adopt`). */
  followsName = true
  /** The Client writing on it (set when its connection comes up), to stop an HTTP/2 session's new streams. */
  client: WritingClient | null = null

  get busy(): boolean {
    return this.inFlight > 0
  }

  constructor(socket: Socket, now: number, maxAgeMs: number | null) {
    this.socket = socket
    this.multiplexed = (socket as { alpnProtocol?: unknown }).alpnProtocol === 'h2'
    this.idleSince = now
    this.openedAt = now
    // Up to 10 % younger than the limit, drawn per connection, so connections opened together part ways.
    this.retireAt = maxAgeMs === null ? null : now + maxAgeMs * (1 - Math.random() * 0.1)
  }
}

/**
 * The record of every socket an origin's connector opened, found from the socket itself: the connector
 * (origin state) writes it, the pairing client reads it when its connection comes up.
 */
const records = new WeakMap<Socket, TrackedSocket>()

export function trackSocket(record: TrackedSocket): void {
  records.set(record.socket, record)
}

export function trackedSocketOf(socket: Socket): TrackedSocket | null {
  return records.get(socket) ?? null
}
