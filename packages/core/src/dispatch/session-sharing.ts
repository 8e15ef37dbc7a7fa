import type { ClientHttp2Session } from 'node:http2'
import type { Dispatcher } from 'undici'
import { readNamed } from '../http/undici-internals.js'
import type { SocketNeed } from './client-choice.js'
import { sessionOf } from './http2-session.js'
import type { PairingClient } from './pairing-client.js'

/**
 * An HTTP/2 origin's requests share sessions, as undici 8 and Node 26's own fetch do: one session carries as
 * many streams as the server's SETTINGS_MAX_CONCURRENT_STREAMS allows, and a new one opens only when those
 * are taken. undici 7 does not do it by itself. Its Client keeps `pipelining` (1 by default) for HTTP/2 too, so
 * each session carries one stream; and a Client whose connection is not up yet counts as busy, so a burst on
 * a cold origin makes its Pool open one connection per request before any of them can say it speaks h2.
 *
 * So: a Client whose session is up gets the server's stream limit as its `pipelining`; a request finds a
 * session with room itself (the Pool only knows its own busy flags, which clear a turn later); and while a
 * connection of the origin is being opened and no session has room, requests wait for it (held), then go on
 * the session it brought, or, if it spoke HTTP/1.1 or failed, to the Pool, which opens connections as
 * always. Once an origin answered in HTTP/1.1 nothing here runs for it again.
 */
export class SessionSharing {
  /** What the origin's connections spoke so far: null before the first one is up. */
  protocol: 'h2' | 'http/1.1' | null = null
  /** Streams per session before the server's SETTINGS say otherwise (undici's own `maxConcurrentStreams`). */
  readonly #maxStreams: number
  /** The `pipelining` an HTTP/1.1 connection of the origin keeps (1 unless inherited). */
  readonly #http1Pipelining: number
  /** Sessions up whose server SETTINGS have not arrived yet. */
  #awaitingSettings = 0
  /** Requests waiting for a connection being opened. */
  #held: HeldRequest[] = []
  /** Where held requests go when they leave: on a given Client, or (null) routed again as new ones are. */
  #route: (request: HeldRequest, on: PairingClient | null) => void = () => {}

  constructor(maxStreams: number, http1Pipelining: number) {
    this.#maxStreams = maxStreams
    this.#http1Pipelining = http1Pipelining
  }

  /** Whether requests to this origin are routed here (not once it is known to speak HTTP/1.1). */
  get active(): boolean {
    return this.protocol !== 'http/1.1'
  }

  routeWith(route: (request: HeldRequest, on: PairingClient | null) => void): void {
    this.#route = route
  }

  /** A Client whose HTTP/2 session is up and has a stream free, that `usable` allows; null if none has. */
  clientWithRoom(clients: readonly PairingClient[], usable: (client: PairingClient) => boolean): PairingClient | null {
    for (const client of clients) {
      const record = client.socket
      if (record === null || !record.multiplexed || record.draining || record.socket.destroyed) continue
      if (client.closed || client.destroyed) continue
      const { running, pending } = client.stats
      if (pending === 0 && running < client.pipelining && usable(client)) return client
    }
    return null
  }

  /** Whether a connection of the origin is being opened (or is up, waiting for its SETTINGS). */
  opening(clients: readonly PairingClient[]): boolean {
    if (this.#awaitingSettings > 0) return true
    for (const client of clients) if (client.connecting && !client.closed && !client.destroyed) return true
    return false
  }

  hold(request: HeldRequest): void {
    this.#held.push(request)
  }

  /**
   * A connection came up: an HTTP/2 one takes the held requests it has room for, directly (its Pool flags it
   * free only a turn later); the rest, and all of them after an HTTP/1.1 one, are routed again.
   */
  connected(client: PairingClient): void {
    const multiplexed = client.socket?.multiplexed === true
    this.protocol = multiplexed ? 'h2' : 'http/1.1'
    if (!multiplexed) {
      // A Client that spoke h2 before and reconnected in HTTP/1.1 must not pipeline what it was given.
      if (client.pipelining !== this.#http1Pipelining) client.pipelining = this.#http1Pipelining
      for (const request of this.#take()) this.#route(request, null)
      return
    }
    const session = sessionOf(client.socket!.socket)
    // Until the server's SETTINGS arrive its stream limit is unknown, and streams past it would be refused:
    // the requests waiting keep waiting (and new ones join them) until then.
    if (session !== null && readNamed(session, 'http2session remote settings') === false) {
      this.#awaitingSettings++
      let settled = false
      const settle = () => {
        if (settled) return
        settled = true
        this.#awaitingSettings--
        if (session.destroyed || session.closed) this.release()
        else this.#admit(client, session)
      }
      session.once('remoteSettings', settle)
      session.once('close', settle)
      return
    }
    this.#admit(client, session)
  }

  /**
   * A connection failed, a session ended with a GOAWAY, or the dispatcher is closing: the held requests are
   * routed again (then to the pool, which finishes or fails them as it closes).
   */
  release(): void {
    for (const request of this.#take()) this.#route(request, null)
  }

  /** The session takes the waiting requests it has room for; the rest are routed again. */
  #admit(client: PairingClient, session: ClientHttp2Session | null): void {
    this.#shareSession(client, session)
    let room = client.pipelining - client.stats.size
    for (const request of this.#take()) this.#route(request, room-- > 0 ? client : null)
  }

  #take(): HeldRequest[] {
    const held = this.#held
    this.#held = []
    return held
  }

  /** The session's stream limit as its Client's `pipelining`, kept up to date with the server's SETTINGS. */
  #shareSession(client: PairingClient, session: ClientHttp2Session | null): void {
    const limit = (settings: { maxConcurrentStreams?: number } | undefined) =>
      Math.max(1, Math.min(this.#maxStreams, settings?.maxConcurrentStreams ?? this.#maxStreams))
    // Before the server's SETTINGS arrive, Node reports the protocol's default (no limit): undici's then.
    client.pipelining = limit(session?.remoteSettings)
    session?.on('remoteSettings', (settings) => {
      if (!client.closed && !client.destroyed && client.socket?.draining !== true) client.pipelining = limit(settings)
    })
  }
}

/** A request routed over shared sessions: held until a connection is up, then routed again. */
export interface HeldRequest {
  readonly options: Dispatcher.DispatchOptions
  readonly handler: Dispatcher.DispatchHandler
  /** A first attempt's socket need (see `SocketNeed`), or `retry`: any session but a suspect one. */
  readonly need: SocketNeed | 'retry'
}
