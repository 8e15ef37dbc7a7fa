import http, { type ClientRequest } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { StaleguardStats } from '../observe/stats.js'
import type { StaleguardDispatcher } from '../dispatch/staleguard-dispatcher.js'
import { type StaleguardAgentOptions, prepareAgent } from './agent-options.js'
import { AgentSockets } from './agent-sockets.js'
import type { NodeAgent, RequestSocketOptions } from './node-agent.js'
import { finishRequestOn, noteSocket } from './request-watch.js'

export type { StaleguardAgentOptions } from './agent-options.js'

type ConnectionCallback = (error: Error | null, socket: Duplex) => void

const createSocketByNode = (
  http.Agent.prototype as unknown as {
    createSocket(req: ClientRequest, options: RequestSocketOptions, callback: ConnectionCallback): void
  }
).createSocket

/**
 * The places where both agent classes hand node:http's moments to {@link AgentSockets}; each class method
 * is one line over these.
 */
const agentMoments = {
  /**
   * node:http opens a connection for a request. The socket it hands the request (the callback's) is the one
   * adopted, not the one `createConnection` returns: through Node's own proxy tunnel (`proxyEnv`) they differ.
   */
  createSocket(
    agent: NodeAgent,
    sockets: AgentSockets,
    req: ClientRequest,
    options: RequestSocketOptions,
    callback: ConnectionCallback,
  ): void {
    let connectOptions = options
    const outer = sockets.connecting
    sockets.connecting = (given) => {
      connectOptions = given
    }
    try {
      createSocketByNode.call(agent, req, options, (error, socket) => {
        if (error == null && socket != null) {
          sockets.adopt(socket as Socket, connectOptions, agent)
          noteSocket(req, socket as Socket)
        }
        callback(error, socket)
      })
    } finally {
      sockets.connecting = outer
    }
  },
  /**
   * The agent's 'free' event (a socket's request answered) heard first, by one listener in front of node:http's
   * own: a second listener on every socket's 'free' would have its emitter copy the list on every request.
   */
  hearFreeSocketsFirst(agent: NodeAgent): void {
    const byNode = agent.listeners('free') as ((this: NodeAgent, socket: Socket, options: unknown) => void)[]
    agent.removeAllListeners('free')
    agent.on('free', function (this: NodeAgent, socket: Socket, options: unknown) {
      finishRequestOn(socket)
      for (let i = 0; i < byNode.length; i++) byNode[i]?.call(this, socket, options)
    })
  },
  /** No socket is kept idle from now on: the idle ones close now, the busy ones as their request ends. */
  close(agent: NodeAgent, sockets: AgentSockets, ownRegistry: StaleguardDispatcher | null): void {
    sockets.stop()
    for (const name in agent.freeSockets) for (const socket of agent.freeSockets[name] ?? []) socket.destroy()
    void ownRegistry?.close()
  },
  /** An agent whose requests go on a new connection of the same pool: the one a retry is sent through. */
  retryAgentOf(agent: NodeAgent, sockets: AgentSockets): http.Agent {
    const retryAgent = Object.create(agent) as NodeAgent
    Object.defineProperty(retryAgent, 'addRequest', {
      value: (req: ClientRequest, options: RequestSocketOptions) =>
        sockets.addRequest(agent, req, options, 2, retryAgent),
    })
    return retryAgent
  },
}

/**
 * An `http.Agent` (usable wherever one is accepted: axios, got, node-fetch, the AWS SDK, `http.request`) whose
 * idle sockets are retired before the path's idle limit, per origin, with the server's `Keep-Alive` hint
 * honoured and capped; a stale failure closes the sockets idle as long and teaches the origin; a request that
 * cannot be sent twice goes only on a socket proven safe, else a new one. node:http never replays a request
 * itself: the integrations for axios and got send the one safe retry (see the README, "Every HTTP client").
 */
export class StaleguardHttpAgent extends http.Agent {
  readonly #sockets: AgentSockets
  readonly #ownRegistry: StaleguardDispatcher | null
  readonly #retryAgent: http.Agent

  constructor(options?: StaleguardAgentOptions) {
    const prepared = prepareAgent(options)
    super(prepared.agentOptions)
    this.#sockets = new AgentSockets(prepared.registry, 'http:', () => (this as unknown as NodeAgent).freeSockets)
    this.#ownRegistry = prepared.ownRegistry
    this.#retryAgent = agentMoments.retryAgentOf(this as unknown as NodeAgent, this.#sockets)
    agentMoments.hearFreeSocketsFirst(this as unknown as NodeAgent)
  }

  /** @internal node:http's own, not in its types. */
  addRequest(req: ClientRequest, options: RequestSocketOptions): void {
    this.#sockets.addRequest(this as unknown as NodeAgent, req, options, 1, this.#retryAgent)
  }

  /** @internal node:http's own: a connection opened is adopted by its origin. */
  override createConnection(options: http.ClientRequestArgs, callback?: ConnectionCallback): Duplex | null | undefined {
    this.#sockets.connecting?.(options as RequestSocketOptions)
    return super.createConnection(options, callback)
  }

  /** @internal node:http's own: a free socket handed to a request. */
  override reuseSocket(socket: Duplex, request: ClientRequest): void {
    super.reuseSocket(socket, request)
    noteSocket(request, socket as Socket)
  }

  /** @internal node:http's own, not in its types: a new connection, handed to the request in `callback`. */
  createSocket(req: ClientRequest, options: RequestSocketOptions, callback: ConnectionCallback): void {
    agentMoments.createSocket(this as unknown as NodeAgent, this.#sockets, req, options, callback)
  }

  /** @internal node:http's own: how long a socket going idle is kept (`AgentSockets.keep`). */
  override keepSocketAlive(socket: Duplex): boolean {
    return (
      this.#sockets.keep(socket as Socket, this as unknown as NodeAgent) ??
      (super.keepSocketAlive(socket) as unknown as boolean)
    )
  }

  /** Counters in total and per origin: the dispatcher's own when shared with one (`dispatcher` option). */
  stats(): StaleguardStats {
    return this.#sockets.registry.stats()
  }

  /**
   * Closes the agent gently: requests in flight finish, each socket closes as it comes free, the idle ones
   * now. (`installGlobalAgents().restore()` and the adapters' close use it.)
   */
  close(): void {
    agentMoments.close(this as unknown as NodeAgent, this.#sockets, this.#ownRegistry)
  }

  /** Closes every socket at once, busy ones too, as node:http's `destroy()` does, and lets go of what the agent made for itself. */
  override destroy(): void {
    super.destroy()
    this.#sockets.stop()
    void this.#ownRegistry?.close()
  }
}

/** The same for `https:` (an `https.Agent`): TLS options (`ca`, `cert`, `key`, `rejectUnauthorized`…) in `agentOptions`. */
export class StaleguardHttpsAgent extends https.Agent {
  readonly #sockets: AgentSockets
  readonly #ownRegistry: StaleguardDispatcher | null
  readonly #retryAgent: http.Agent

  constructor(options?: StaleguardAgentOptions) {
    const prepared = prepareAgent(options)
    super(prepared.agentOptions)
    this.#sockets = new AgentSockets(prepared.registry, 'https:', () => (this as unknown as NodeAgent).freeSockets)
    this.#ownRegistry = prepared.ownRegistry
    this.#retryAgent = agentMoments.retryAgentOf(this as unknown as NodeAgent, this.#sockets)
    agentMoments.hearFreeSocketsFirst(this as unknown as NodeAgent)
  }

  /** @internal node:http's own, not in its types. */
  addRequest(req: ClientRequest, options: RequestSocketOptions): void {
    this.#sockets.addRequest(this as unknown as NodeAgent, req, options, 1, this.#retryAgent)
  }

  /** @internal node:http's own: a connection opened is adopted by its origin. */
  override createConnection(options: http.ClientRequestArgs, callback?: ConnectionCallback): Duplex | null | undefined {
    this.#sockets.connecting?.(options as RequestSocketOptions)
    return super.createConnection(options, callback)
  }

  /** @internal node:http's own: a free socket handed to a request. */
  override reuseSocket(socket: Duplex, request: ClientRequest): void {
    super.reuseSocket(socket, request)
    noteSocket(request, socket as Socket)
  }

  /** @internal node:http's own, not in its types: a new connection, handed to the request in `callback`. */
  createSocket(req: ClientRequest, options: RequestSocketOptions, callback: ConnectionCallback): void {
    agentMoments.createSocket(this as unknown as NodeAgent, this.#sockets, req, options, callback)
  }

  /** @internal node:http's own: how long a socket going idle is kept (`AgentSockets.keep`). */
  override keepSocketAlive(socket: Duplex): boolean {
    return (
      this.#sockets.keep(socket as Socket, this as unknown as NodeAgent) ??
      (super.keepSocketAlive(socket) as unknown as boolean)
    )
  }

  /** Counters in total and per origin: the dispatcher's own when shared with one (`dispatcher` option). */
  stats(): StaleguardStats {
    return this.#sockets.registry.stats()
  }

  /** Closes the agent gently: requests in flight finish, each socket closes as it comes free, the idle ones now. */
  close(): void {
    agentMoments.close(this as unknown as NodeAgent, this.#sockets, this.#ownRegistry)
  }

  /** Closes every socket at once, busy ones too, as node:https's `destroy()` does, and lets go of what the agent made for itself. */
  override destroy(): void {
    super.destroy()
    this.#sockets.stop()
    void this.#ownRegistry?.close()
  }
}

/** An `http.Agent` with staleguard's protections, for any node:http client (see {@link StaleguardHttpAgent}). */
export function createHttpAgent(options?: StaleguardAgentOptions): StaleguardHttpAgent {
  return new StaleguardHttpAgent(options)
}

/** An `https.Agent` with staleguard's protections, for any node:https client (see {@link StaleguardHttpsAgent}). */
export function createHttpsAgent(options?: StaleguardAgentOptions): StaleguardHttpsAgent {
  return new StaleguardHttpsAgent(options)
}
