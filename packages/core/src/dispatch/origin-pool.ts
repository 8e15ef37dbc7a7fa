import type { Dispatcher, Pool as UndiciPool } from 'undici'
import { Pool } from '../http/undici.js'
import { symbolNamed } from '../http/undici-internals.js'
import type { OriginState } from './origin-state.js'
import { PairingClient, createPairingClient } from './pairing-client.js'
import { SessionSharing } from './session-sharing.js'

/** undici's own `maxConcurrentStreams` default: the streams a session may carry before the server says. */
const DEFAULT_MAX_STREAMS = 100

/** An origin's undici Pool, with the Clients it holds (in its own order), for requests that choose their socket. */
export interface OriginPool {
  readonly pool: UndiciPool
  readonly clients: readonly PairingClient[]
  /** How an origin that may speak HTTP/2 shares its sessions (null: an `http:` origin, or `allowH2` off). */
  readonly sharing: SessionSharing | null
  /**
   * Hands a request to one of the pool's Clients directly. The pool flags a Client busy only when its own
   * dispatch finds it so; a Client given a request behind its back is flagged here, or the pool would queue
   * its next request behind this one instead of taking another Client.
   */
  dispatchOn(client: PairingClient, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void
}

/** What the dispatcher's pool events are handed to: undici's Agent passes its pools' events on. */
export type PoolEventSink = (event: string, origin: URL, targets: readonly Dispatcher[], error?: Error) => void

/**
 * One pool per origin, kept for as long as the origin is: undici's Agent drops a pool whenever its connection
 * count touches zero, even with a request waiting, and every request after a closed or evicted connection
 * then pays for a new pool and a new connection.
 */
export function createOriginPool(state: OriginState, sink: PoolEventSink): OriginPool {
  const clients: PairingClient[] = []
  const pool = new Pool(state.key, {
    ...undiciOptionsFor(state),
    connections: state.options.connections,
    connect: state.connect,
    factory: (origin: string | URL, options: object) => {
      const client = createPairingClient(origin, options)
      clients.push(client)
      return client
    },
  })
  // undici's Pool lets go of a Client whose connection failed (a connect error, an HTTP/2 GOAWAY), and of no
  // other (`clientTtl` is never set here): the list follows.
  ;(pool as NodeJS.EventEmitter).on('connectionError', (_origin: URL, targets: readonly Dispatcher[]) => {
    for (const target of targets) {
      const index = clients.indexOf(target as PairingClient)
      if (index !== -1) clients.splice(index, 1)
    }
  })
  for (const event of ['connect', 'disconnect', 'connectionError', 'drain'] as const) {
    ;(pool as NodeJS.EventEmitter).on(event, (origin: URL, targets: readonly Dispatcher[], error?: Error) =>
      sink(event, origin, targets, error),
    )
  }
  const kBusyFlag = busyFlagOf(pool)
  const inherited = state.clientOptions
  const sharing = state.mayMultiplex
    ? new SessionSharing(
        (inherited.maxConcurrentStreams as number | undefined) ?? DEFAULT_MAX_STREAMS,
        state.http1Pipelining,
      )
    : null
  return {
    pool,
    clients,
    sharing,
    dispatchOn(client, options, handler) {
      const ready = client.dispatch(options, handler)
      if (!ready && kBusyFlag !== undefined) (client as unknown as Record<symbol, boolean>)[kBusyFlag] = true
    },
  }
}

/**
 * The key of a pool's own per-Client busy flag (undici's pool-base `kNeedDrain`, on every Pool as its own
 * field), or undefined if this undici has none.
 */
export function busyFlagOf(pool: UndiciPool): symbol | undefined {
  return symbolNamed(pool, 'needDrain')
}

/** A Client of its own for one request (a retry): the origin's settings and connector, outside the pool. */
export function createLoneClient(state: OriginState): PairingClient {
  return new PairingClient(state.key, { ...undiciOptionsFor(state), connect: state.connect })
}

function undiciOptionsFor(state: OriginState): UndiciPool.Options {
  const { keepAliveTimeout, keepAliveMaxTimeout, headersTimeout, bodyTimeout, allowH2 } = state.options
  const inherited = state.clientOptions
  return {
    // What the dispatcher staleguard stands in for gave its connections (`maxResponseSize`, `localAddress`…).
    ...inherited,
    keepAliveTimeout,
    keepAliveMaxTimeout,
    headersTimeout,
    bodyTimeout,
    // One request per HTTP/1.1 socket at a time: reuse and idle time are then facts about a whole socket
    // (an HTTP/2 session counts its streams, and is idle when the last one ends). An inherited `pipelining`
    // is kept: a socket is then idle when its last request ends, and bytes read are not one request's.
    pipelining: state.http1Pipelining,
    allowH2,
  }
}
