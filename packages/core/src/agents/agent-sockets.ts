import http, { type Agent as HttpAgent, type ClientRequest } from 'node:http'
import type { Socket } from 'node:net'
import type { OriginState } from '../dispatch/origin-state.js'
import { trackedSocketOf } from '../dispatch/tracked-socket.js'
import type { StaleguardStats } from '../observe/stats.js'
import { IdleSweep } from './idle-sweep.js'
import { isSafeToSendTwice } from './request-failure.js'
import {
  type RetryRoute,
  agentConnectionOf,
  hasSocketNoted,
  markAgentConnection,
  watchAgentRequest,
  watchQueued,
} from './request-watch.js'

/** Where an agent finds an origin's state: the dispatcher of its installation, or one of its own. */
export interface OriginRegistry {
  originStateFor(origin: string): OriginState | null
  stats(): StaleguardStats
}

/** What node:http's Agent does and its types leave out. */
export interface AgentInternals {
  addRequest(req: ClientRequest, options: RequestSocketOptions): void
  readonly options: { readonly timeout?: number }
  readonly freeSockets: Record<string, Socket[] | undefined>
  readonly keepAliveMsecs: number
}

/** The part of a request's options that names its connection (node:http's `getName`). */
export interface RequestSocketOptions {
  readonly host?: string | null
  readonly hostname?: string | null
  readonly port?: number | string | null
  readonly [option: string]: unknown
}

type NodeAgent = HttpAgent & AgentInternals

/** node:http's own placing of a request (both agent classes inherit it from `http.Agent`). */
const placeByNode = (http.Agent.prototype as unknown as AgentInternals).addRequest

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
    const host = options.host ?? options.hostname ?? (agent.options as RequestSocketOptions).host ?? 'localhost'
    const port = options.port ?? (agent.options as RequestSocketOptions).port ?? this.#defaultPort
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
    markAgentConnection(socket, { record: origin.adopt(socket), origin, keepMs: origin.options.keepAliveTimeout })
  }

  /**
   * Places a request: one that cannot be sent twice (a POST without `Idempotency-Key`) takes no socket idle
   * longer than the origin has proven safe; such sockets are closed, and it gets a proven one or a new one.
   * `attempt` 2 is an integration's retry, which goes on a new connection. Then node:http places it.
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
    watchAgentRequest(req, origin, attempt, this.#route)
    if (attempt > 1) placeOnNewConnection(agent, req, options)
    else {
      if (origin.options.protectUnreplayable && !isSafeToSendTwice(req, origin)) {
        const now = performance.now()
        if (origin.hasSuspectIdleSocket(now)) this.#retireSuspects(agent, origin, req, options, now)
      }
      placeByNode.call(agent, req, options)
    }
    if (!hasSocketNoted(req)) watchQueued(req)
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
    if (socket.destroyed) return false
    const { keepAliveTimeout, keepAliveMaxTimeout } = connection.origin.options
    let idle = keepAliveTimeout
    const hint = (socket as { _httpMessage?: { res?: { headers: Record<string, unknown> } } })._httpMessage?.res
      ?.headers['keep-alive']
    if (typeof hint === 'string') idle = Math.min(keepAliveMaxTimeout, this.#hintedIdle(hint, keepAliveTimeout))
    const own = agent.options.timeout
    if (typeof own === 'number' && own > 0) idle = Math.min(idle, own)
    if (idle < 1) return false
    connection.keepMs = Math.floor(idle)
    this.#sweep.watch(connection.record.idleSince, connection.keepMs)
    socket.setKeepAlive(true, agent.keepAliveMsecs)
    socket.unref()
    return true
  }

  /** The agent is destroyed: its sockets are gone, and so is the sweep's timer. */
  stop(): void {
    this.#sweep.stop()
  }

  /** One second off the server's hint, half of a hint of 2 s or less; `fallback` for a hint without `timeout`. */
  #hintedIdle(hint: string, fallback: number): number {
    if (hint === this.#lastHint) return this.#lastHintMs
    const seconds = /timeout=(\d+)/i.exec(hint)?.[1]
    const hintMs = seconds === undefined ? Number.NaN : Number(seconds) * 1000
    const idle = Number.isNaN(hintMs) ? fallback : hintMs > 2000 ? hintMs - 1000 : hintMs / 2
    this.#lastHint = hint
    this.#lastHintMs = idle
    return idle
  }

  #retireSuspects(
    agent: NodeAgent,
    origin: OriginState,
    req: ClientRequest,
    options: RequestSocketOptions,
    now: number,
  ): void {
    const name = agent.getName({ ...options, ...agent.options } as Parameters<HttpAgent['getName']>[0])
    const free = agent.freeSockets[name]
    if (free === undefined || free.length === 0) return
    let retired = 0
    for (let i = free.length - 1; i >= 0; i--) {
      const record = trackedSocketOf(free[i]!)
      if (record === null || !origin.suspects(record, now)) continue
      free.splice(i, 1)
      origin.retireSuspect(record)
      retired++
    }
    if (free.length === 0) delete agent.freeSockets[name]
    if (retired > 0 && free.length === 0) origin.noteUnreplayableOnNewConnection(req.method, req.path)
  }
}

/** node:http places it with no free socket in sight: on a new connection, or queued for the next socket freed. */
function placeOnNewConnection(agent: NodeAgent, req: ClientRequest, options: RequestSocketOptions): void {
  const name = agent.getName({ ...options, ...agent.options } as Parameters<HttpAgent['getName']>[0])
  const free = agent.freeSockets[name]
  if (free !== undefined) delete agent.freeSockets[name]
  try {
    placeByNode.call(agent, req, options)
  } finally {
    if (free !== undefined && free.length > 0) agent.freeSockets[name] = free
  }
}
