import http, { type Agent as HttpAgent, type ClientRequest } from 'node:http'
import type { Socket } from 'node:net'

/** What node:http's Agent does and its types leave out. */
export interface AgentInternals {
  addRequest(req: ClientRequest, options: RequestSocketOptions): void
  readonly options: { readonly timeout?: number }
  readonly freeSockets: Record<string, Socket[] | undefined>
  readonly sockets: Record<string, Socket[] | undefined>
  readonly keepAliveMsecs: number
  readonly scheduling?: 'fifo' | 'lifo'
}

/** The part of a request's options that names its connection (node:http's `getName`). */
export interface RequestSocketOptions {
  readonly host?: string | null
  readonly hostname?: string | null
  readonly port?: number | string | null
  readonly [option: string]: unknown
}

/** A node:http agent as staleguard's agents see themselves. */
export type NodeAgent = HttpAgent & AgentInternals

/** node:http's own placing of a request (both agent classes inherit it from `http.Agent`). */
export const placeByNode = (http.Agent.prototype as unknown as AgentInternals).addRequest
