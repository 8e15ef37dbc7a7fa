import type { Agent as HttpAgent, ClientRequest } from 'node:http'
import type { Socket } from 'node:net'
import type { OriginState } from '../dispatch/origin-state.js'
import type { StaleguardStats } from '../observe/stats.js'
import { IdleSweep } from './idle-sweep.js'
import type { NodeAgent, RequestSocketOptions } from './node-agent.js'
import {
  everyFreeSocket,
  nextFreeSocket,
  placeByNode,
  placeHiding,
  retireSuspects,
  suspectSockets,
} from './socket-placement.js'
import { isSafeToSendTwice } from './request-failure.js'
import { type RetryRoute, agentConnectionOf, markAgentConnection, placed, startPlacing } from './request-watch.js'
import { RequestWatch } from './watched-request.js'

/** Where an agent finds an origin's state: the dispatcher of its installation, or one of its own. */
export interface OriginRegistry {
  originStateFor(origin: string): OriginState | null
  stats(): StaleguardStats
}

/**
 * The staleguard side of one node:http agent (`createHttpAgent`, `createHttpsAgent`): the per-origin state
 * it shares with the dispatcher, and the three moments node:http lets an agent act on (a connection opened,
 * a request placed, a socket going idle). Both agent classes hand those moments here.
 */
export class AgentSockets {
  readonly registry: OriginRegistry
  readonly #protocol: 'http:' | 'https:'
  readonly #defaultPort: number
  readonly #sweep: IdleSweep
  /** How its requests are sent again: through its retry agent (one per agent, made on the first request). */
  #route: RetryRoute | null = null
  /** Per origin, the request sent out to scout its suspect sockets (see `addRequest`). */
  readonly #scouts = new WeakMap<OriginState, RequestWatch>()
  /** Set while node:http opens a connection: hears the options `createConnection` is given. */
  connecting: ((options: RequestSocketOptions) => void) | null = null
  #closed = false
  /** Per origin, the pool bucket (node:http's `getName`) its last connection was opened for. */
  readonly #buckets = new WeakMap<OriginState, string>()
  /** The last `Keep-Alive` hint read, and the idle it allows (most servers send the same one every time). */
  #lastHint: string | null = null
  #lastHintMs = 0

  constructor(
    registry: OriginRegistry,
    protocol: 'http:' | 'https:',
    freeSockets: () => Record<string, Socket[] | undefined>,
  ) {
    this.registry = registry
    this.#sweep = new IdleSweep(freeSockets)
    this.#protocol = protocol
    this.#defaultPort = protocol === 'https:' ? 443 : 80
  }

  /** The last origin asked for, by host and port: most agents call one or two hosts. */
  #lastHost: unknown = undefined
  #lastPort: unknown = undefined
  #lastOrigin: OriginState | null = null

  originOf(options: RequestSocketOptions, agent: NodeAgent): OriginState | null {
    // The agent's own options win over the request's, as in node:http.
    const own = agent.options as RequestSocketOptions
    const host = own.host ?? options.host ?? options.hostname ?? 'localhost'
    const port = own.port ?? options.port ?? this.#defaultPort
    const last = this.#lastOrigin
    // An origin with sockets or requests is never forgotten by its registry: the one remembered here is its.
    if (
      host === this.#lastHost &&
      port === this.#lastPort &&
      last !== null &&
      (last.inFlight > 0 || last.sockets.size > 0)
    )
      return last
    const name = host.includes(':') && host[0] !== '[' ? `[${host}]` : host
    const origin = this.registry.originStateFor(`${this.#protocol}//${name}:${port}`)
    this.#lastHost = host
    this.#lastPort = port
    this.#lastOrigin = origin
    return origin
  }

  /** A connection the agent opened: from now on the origin counts, retires, evicts and learns from it. */
  adopt(socket: Socket | null | undefined, options: RequestSocketOptions, agent: NodeAgent): void {
    if (socket == null || agentConnectionOf(socket) !== undefined) return
    const origin = this.originOf(options, agent)
    if (origin === null) return
    // node:http names the pool bucket it opens the connection for (`_agentKey`): the origin's requests go there.
    const bucket = typeof options._agentKey === 'string' ? options._agentKey : null
    if (bucket !== null) this.#buckets.set(origin, bucket)
    markAgentConnection(socket, {
      // The agent resolves the name itself (its own lookup, Node's proxy): the origin's refresh is not its.
      record: origin.adopt(socket, false),
      origin,
      keepMs: origin.options.keepAliveTimeout,
      running: null,
    })
  }

  /**
   * Places a request. While the origin has a socket idle longer than it has proven safe (a suspect):
   * - one that cannot be sent twice (a POST without `Idempotency-Key`) takes none (they are closed), and gets
   *   a proven socket or a new one;
   * - one that can may scout: the first takes what node:http gives it, suspect or not, and while it is out
   *   the others take no suspect (a proven socket, or a new connection). Its answer proves the suspects
   *   alive; its failure closes them. So an idle gap costs at most one stale failure, which the client's
   *   integration retries, instead of one per socket pooled.
   * `attempt` 2 is an integration's retry, which goes on a new connection.
   */
  addRequest(
    agent: NodeAgent,
    req: ClientRequest,
    options: RequestSocketOptions,
    attempt: number,
    retryAgent: HttpAgent,
  ): void {
    const origin = typeof options === 'object' && options !== null ? this.originOf(options, agent) : null
    if (origin === null) {
      placeByNode.call(agent, req, options)
      return
    }
    this.#route ??= { agent: retryAgent, protocol: this.#protocol }
    const watch = new RequestWatch(req, origin, attempt, this.#route)
    const now = performance.now()
    watch.placedAt = now
    startPlacing(watch)
    try {
      if (attempt > 1) placeHiding(agent, origin, req, options, everyFreeSocket)
      else this.#placeFirst(agent, origin, watch, req, options, now)
    } finally {
      placed(watch)
    }
  }

  #placeFirst(
    agent: NodeAgent,
    origin: OriginState,
    watch: RequestWatch,
    req: ClientRequest,
    options: RequestSocketOptions,
    now: number,
  ): void {
    if (!origin.options.protectUnreplayable || !origin.hasSuspectIdleSocket(now)) {
      placeByNode.call(agent, req, options)
      return
    }
    if (!isSafeToSendTwice(req, origin)) {
      retireSuspects(agent, origin, req, options, now)
      placeByNode.call(agent, req, options)
      return
    }
    // Only when node:http's own pick is one: a few sockets at the bottom of a busy pool often idle that long.
    const bucket = this.#buckets.get(origin)
    const pick = bucket === undefined ? undefined : nextFreeSocket(agent, bucket)
    const pickRecord = pick === undefined ? undefined : agentConnectionOf(pick)?.record
    if (pickRecord === undefined || !origin.suspects(pickRecord, now)) {
      placeByNode.call(agent, req, options)
      return
    }
    const scout = this.#scouts.get(origin)
    if (scout !== undefined && !scout.finished) {
      placeHiding(agent, origin, req, options, suspectSockets(origin, now))
      return
    }
    this.#scouts.set(origin, watch)
    placeByNode.call(agent, req, options)
  }

  /**
   * A socket going idle (node:http's `keepSocketAlive`): kept for the origin's idle limit, lowered by the app's
   * own agent `timeout` and by the server's `Keep-Alive: timeout=` hint (one second off it, half of a hint of
   * 2 s or less, never above `keepAliveMaxTimeout`), then closed by the sweep. A learned, lower limit is the
   * origin's own timer. False: close it now; undefined: not a connection of this agent's origins.
   */
  keep(socket: Socket, agent: NodeAgent): boolean | undefined {
    const connection = agentConnectionOf(socket)
    if (connection === undefined) return undefined
    if (socket.destroyed || this.#closed) return false
    // What node:http's own does: the app's agent `timeout` back on the socket, which the response took off.
    const own = agent.options.timeout
    const timeout = typeof own === 'number' && own > 0 ? own : 0
    if (socket.timeout !== timeout) socket.setTimeout(timeout)
    const { keepAliveTimeout, keepAliveMaxTimeout } = connection.origin.options
    let idle = keepAliveTimeout
    const hint = (socket as { _httpMessage?: { res?: { headers: Record<string, unknown> } } })._httpMessage?.res
      ?.headers['keep-alive']
    if (typeof hint === 'string') idle = Math.min(keepAliveMaxTimeout, this.#hintedIdle(hint, keepAliveTimeout))
    if (timeout > 0) idle = Math.min(idle, timeout)
    if (idle < 1) return false
    connection.keepMs = Math.floor(idle)
    this.#sweep.watch(connection.record.idleSince, connection.keepMs)
    socket.setKeepAlive(true, agent.keepAliveMsecs)
    socket.unref()
    return true
  }

  /** The agent is closed or destroyed: no socket is kept idle any more, and the sweep's timer goes. */
  stop(): void {
    this.#closed = true
    this.#sweep.stop()
  }

  /** One second off the server's hint, half of a hint of 2 s or less; `fallback` for a hint without `timeout`. */
  #hintedIdle(hint: string, fallback: number): number {
    if (hint === this.#lastHint) return this.#lastHintMs
    const seconds = /timeout=(\d+)/i.exec(hint)?.[1]
    // Without a timeout the origin's own limit stands, and that one is not this agent's to remember.
    if (seconds === undefined) return fallback
    const hintMs = Number(seconds) * 1000
    const idle = hintMs > 2000 ? hintMs - 1000 : hintMs / 2
    this.#lastHint = hint
    this.#lastHintMs = idle
    return idle
  }
}
