import type { OriginState } from './origin-state.js'
import type { PairingClient } from './pairing-client.js'
import type { TrackedSocket } from './tracked-socket.js'

/**
 * The sockets a request may be written on. `proven`: it cannot be replayed (a method not safe to send twice
 * without an Idempotency-Key, a stream body…), so only a socket idle for less than its origin has proven
 * safe. `scout`: a stale failure would be retried, so it may test a suspect socket, and is given one. `any`:
 * the pool's pick, as undici (protection off, or retries off for a request that could be replayed).
 */
export type SocketNeed = 'proven' | 'scout' | 'any'

/** The Client a request is handed to instead of the pool's pick. */
export interface ClientChoice {
  readonly client: PairingClient
  /**
   * It goes out on a new connection where the pool's own pick would have reused a socket: a connection that
   * protection costs (`unreplayableOnNewConnection`). A new connection the pool would have opened as well
   * (its first free Client had no socket either) is not one.
   */
  readonly newConnection: boolean
}

/**
 * Which of an origin's Clients a request goes to, when some idle socket has been idle longer than the origin
 * has proven safe (a suspect); null otherwise, and then undici's Pool picks, as always (its first free
 * Client, whatever that Client's socket).
 *
 * A request that cannot be replayed must not meet a suspect: it takes
 * 1. a free Client whose socket was idle for less than the evidence (the most recently used): no cost;
 * 2. else a free Client without a socket: it connects anew, as it would for any request;
 * 3. else the free Client whose suspect socket is the longest idle: that socket is closed and the Client
 *    connects anew for this request (undici's Client waits for a closed socket's close event before it
 *    connects, so the request is never written on it). The pool keeps its number of connections, and the
 *    next such request finds the new socket (case 1): one connection per such request in flight after an
 *    idle gap, not one per request.
 * A request that can be replayed (`scout`) takes the free Client whose suspect socket is the longest idle: if the
 * socket is alive, its answer is the evidence the others need (the socket is fresh again, and the origin's
 * proven idle grows); if not, the request is retried on a new connection and the origin learns. Left to
 * the pool, such sockets would only be reached when traffic overlaps, by whichever request came then, and
 * under steady traffic with a few sockets idle longer than the evidence every other POST would pay a new
 * connection.
 */
export function chooseClient(
  origin: OriginState,
  clients: readonly PairingClient[],
  need: Exclude<SocketNeed, 'any'>,
  now: number,
): ClientChoice | null {
  if (!origin.hasSuspectIdleSocket(now)) return null
  let recent: PairingClient | null = null
  let recentIdleSince = Number.NEGATIVE_INFINITY
  let empty: PairingClient | null = null
  let suspect: PairingClient | null = null
  let suspectRecord: TrackedSocket | null = null
  // The pool's own pick: its first free Client, in the order kept here.
  let poolPick: PairingClient | null = null
  for (const client of clients) {
    if (client.closed || client.destroyed) continue
    const stats = client.stats
    // Busy, or about to be: a request already queued on it is written first. An HTTP/2 session with a
    // stream free is answering now: as safe as a socket proven within the evidence, and it costs nothing.
    if (stats.size > 0) {
      const record = client.socket
      if (record?.multiplexed && !record.socket.destroyed && stats.pending === 0 && stats.running < client.pipelining) {
        recent = client
        recentIdleSince = Number.POSITIVE_INFINITY
      }
      continue
    }
    poolPick ??= client
    const record = client.socket
    if (record === null || record.socket.destroyed) {
      empty ??= client
    } else if (origin.suspects(record, now)) {
      if (suspectRecord === null || record.idleSince < suspectRecord.idleSince) {
        suspect = client
        suspectRecord = record
      }
    } else if (!record.busy && record.idleSince > recentIdleSince) {
      recent = client
      recentIdleSince = record.idleSince
    }
  }
  if (need === 'scout') {
    // A scout that finds a dead socket needs its retry: not while the origin's retry budget is spent.
    if (suspect === null || !(origin.budget?.allowsRetry(now) ?? true)) return null
    return { client: suspect, newConnection: false }
  }
  if (recent !== null) return { client: recent, newConnection: false }
  // A new connection the pool would have opened too (its pick is this empty Client) costs nothing.
  if (empty !== null) return { client: empty, newConnection: poolPick !== empty }
  if (suspect !== null && suspectRecord !== null) {
    origin.retireSuspect(suspectRecord)
    return { client: suspect, newConnection: true }
  }
  // Every Client is busy: the pool queues the request for the next socket to finish a response, or opens one.
  return null
}
