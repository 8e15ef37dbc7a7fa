import type { Agent as HttpAgent, ClientRequest } from 'node:http'
import { type Socket, isIP } from 'node:net'
import type { OriginState } from '../dispatch/origin-state.js'
import { type NodeAgent, type RequestSocketOptions, placeByNode } from './node-agent.js'
import { agentConnectionOf } from './request-watch.js'

export { placeByNode } from './node-agent.js'

/**
 * The pool bucket node:http puts the request in: `getName` over the request's options under the agent's,
 * with the `servername` node:http works out first (the `Host` header's name, none for an IP), which an https
 * agent's name includes.
 */
function nameOf(agent: NodeAgent, options: RequestSocketOptions, req: ClientRequest): string {
  const merged: Record<string, unknown> = { ...options, ...agent.options }
  if (!merged.servername && merged.servername !== '') merged.servername = serverNameOf(merged, req)
  return agent.getName(merged as Parameters<HttpAgent['getName']>[0])
}

function serverNameOf(options: Record<string, unknown>, req: ClientRequest): string {
  let name = typeof options.host === 'string' ? options.host : ''
  const host = req.getHeader('host')
  if (typeof host === 'string' && host !== '') {
    if (host[0] === '[') {
      const end = host.indexOf(']')
      name = end === -1 ? host : host.slice(1, end)
    } else name = host.split(':', 1)[0]!
  }
  return isIP(name) === 0 ? name : ''
}

/**
 * node:http places the request with the free sockets `hide` picks out of its sight: on another free socket,
 * or on a new connection, or queued for the next socket freed. The hidden ones go back to the pool,
 * untouched, but for one: when no free socket is left in sight, node:http opens a connection, and the hidden
 * socket idle longest is closed in its place, so the agent never has more sockets open than it would have
 * without hiding (`maxSockets` counts free ones too).
 */
export function placeHiding(
  agent: NodeAgent,
  origin: OriginState,
  req: ClientRequest,
  options: RequestSocketOptions,
  hide: (socket: Socket) => boolean,
): void {
  const name = nameOf(agent, options, req)
  const free = agent.freeSockets[name]
  if (free === undefined || free.length === 0) {
    placeByNode.call(agent, req, options)
    return
  }
  const kept: Socket[] = []
  const hidden: Socket[] = []
  for (const socket of free) (hide(socket) ? hidden : kept).push(socket)
  if (hidden.length === 0) {
    placeByNode.call(agent, req, options)
    return
  }
  if (kept.length === 0) {
    // Free sockets sit in the order they went idle: the first is idle longest.
    const replaced = hidden.shift()!
    const record = agentConnectionOf(replaced)?.record
    if (record === undefined) replaced.destroy()
    else origin.retireSuspect(record, 'scouted')
  }
  if (kept.length > 0) agent.freeSockets[name] = kept
  else delete agent.freeSockets[name]
  try {
    placeByNode.call(agent, req, options)
  } finally {
    const back = hidden.filter((socket) => !socket.destroyed).concat(agent.freeSockets[name] ?? [])
    if (back.length > 0) agent.freeSockets[name] = back
    else delete agent.freeSockets[name]
  }
}

/**
 * The free socket node:http would hand the next request of this bucket (the last freed, or the first with
 * `scheduling: 'fifo'`), or undefined when it would open a connection or queue the request.
 */
export function nextFreeSocket(agent: NodeAgent, name: string): Socket | undefined {
  const free = agent.freeSockets[name]
  if (free === undefined || free.length === 0) return undefined
  return agent.scheduling === 'fifo' ? free[0] : free[free.length - 1]
}

/** Hides every free socket: the request goes on a new connection (or waits for a socket freed by a request). */
export const everyFreeSocket = (): boolean => true

/** Hides the free sockets idle longer than their origin has proven safe. */
export function suspectSockets(origin: OriginState, now: number): (socket: Socket) => boolean {
  return (socket) => {
    const record = agentConnectionOf(socket)?.record
    return record !== undefined && origin.suspects(record, now)
  }
}

/**
 * A request that cannot be sent twice takes no socket idle longer than proven: when node:http would hand it
 * one, those are closed (as the dispatcher closes the one such a request was about to take), and it gets a
 * proven one or a new one.
 */
export function retireSuspects(
  agent: NodeAgent,
  origin: OriginState,
  req: ClientRequest,
  options: RequestSocketOptions,
  now: number,
): void {
  const name = nameOf(agent, options, req)
  const pick = nextFreeSocket(agent, name)
  const pickRecord = pick === undefined ? undefined : agentConnectionOf(pick)?.record
  // node:http hands out the socket freed last: when that one is proven, so is the request's.
  if (pickRecord === undefined || !origin.suspects(pickRecord, now)) return
  const free = agent.freeSockets[name]!
  let retired = 0
  for (let i = free.length - 1; i >= 0; i--) {
    const record = agentConnectionOf(free[i]!)?.record
    if (record === undefined || !origin.suspects(record, now)) continue
    free.splice(i, 1)
    origin.retireSuspect(record)
    retired++
  }
  if (free.length === 0) delete agent.freeSockets[name]
  if (retired > 0 && free.length === 0) origin.noteUnreplayableOnNewConnection(req.method, req.path)
}
