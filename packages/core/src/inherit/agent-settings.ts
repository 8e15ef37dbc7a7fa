import type { buildConnector as BuildConnector } from 'undici'
import { readNamed } from '../http/undici-internals.js'
import type { InheritedBase, InheritedOptions } from './inherited-base.js'

/**
 * An undici Agent keeps the options it was built with (under `Symbol('options')`, in undici 6, 7 and 8) and
 * hands them to the pool it builds for each origin (its `factory`), which passes them to each connection.
 * staleguard builds those pools itself, so it reads them here, in its own words where it has an option of
 * its own, and as they are otherwise.
 */

/** Client options undici folds into the connector it builds (client.js and pool.js, 6 to 8), in its order. */
const CONNECTOR_KEYS = [
  'maxCachedSessions',
  'socketPath',
  'useH2c',
  'autoSelectFamily',
  'autoSelectFamilyAttemptTimeout',
]

/** Keys that are the Agent's or the pool's, not a connection's, or that staleguard takes over by name. */
const CONSUMED = new Set([
  'factory',
  'maxOrigins',
  'interceptors',
  'connect',
  'tls',
  'connectTimeout',
  'connections',
  'clientTtl',
  'headersTimeout',
  'bodyTimeout',
  'keepAliveTimeout',
  'keepAliveMaxTimeout',
  'allowH2',
  'maxRequestsPerClient',
  ...CONNECTOR_KEYS,
])

/** The options an undici Agent (any copy) was built with, or undefined when it keeps none where undici does. */
export function agentOptionsOf(agent: object): Record<string, unknown> | undefined {
  const options = readNamed(agent, 'options')
  return typeof options === 'object' && options !== null ? (options as Record<string, unknown>) : undefined
}

/** Whether the Agent builds its pools with undici's own factory (a custom one may build them any way at all). */
export function hasDefaultFactory(agent: object): boolean {
  const factory = readNamed(agent, 'factory')
  return typeof factory === 'function' && factory.name === 'defaultFactory'
}

/**
 * What an Agent's options come to for staleguard: `connect` as undici would have built the connector (the TLS
 * options, then the connector keys, then `connect` itself), the pool's and the connections' limits under
 * staleguard's names, and the rest of the connection options as they are.
 */
export function baseFromAgentOptions(
  raw: Record<string, unknown>,
  source: string,
  defaultAllowH2: boolean,
): Omit<InheritedBase, 'proxy'> {
  const defined = (value: unknown) => value !== undefined && value !== null
  const number = (value: unknown) => (typeof value === 'number' ? value : undefined)
  let connector: BuildConnector.connector | null = null
  const connect: Record<string, unknown> = {}
  if (typeof raw.tls === 'object' && raw.tls !== null) Object.assign(connect, raw.tls)
  for (const key of CONNECTOR_KEYS) if (defined(raw[key])) connect[key] = raw[key]
  if (defined(raw.connectTimeout)) connect.timeout = raw.connectTimeout
  if (typeof raw.connect === 'function') connector = raw.connect as BuildConnector.connector
  else if (typeof raw.connect === 'object' && raw.connect !== null) Object.assign(connect, raw.connect)

  const options: InheritedOptions = {}
  const set = <K extends keyof InheritedOptions>(key: K, value: InheritedOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value
  }
  // undici takes 0 connections for "no limit", staleguard leaves the option out.
  const connections = number(raw.connections)
  set('connections', connections === 0 ? undefined : connections)
  set('headersTimeout', number(raw.headersTimeout))
  set('bodyTimeout', number(raw.bodyTimeout))
  set('keepAliveTimeout', number(raw.keepAliveTimeout))
  set('keepAliveMaxTimeout', number(raw.keepAliveMaxTimeout))
  set('allowH2', typeof raw.allowH2 === 'boolean' ? raw.allowH2 : defaultAllowH2)
  set('maxRequestsPerConnection', number(raw.maxRequestsPerClient) || undefined)
  // A pool's `clientTtl` retires a connection past that age, as `maxConnectionAge` does.
  set('maxConnectionAge', number(raw.clientTtl) || undefined)
  if (Object.keys(connect).length > 0) options.connect = connect as BuildConnector.BuildOptions

  const clientOptions: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) if (!CONSUMED.has(key) && defined(value)) clientOptions[key] = value
  const maxOrigins = number(raw.maxOrigins)
  return {
    source,
    options,
    clientOptions,
    connector,
    maxOrigins: maxOrigins === undefined || maxOrigins === Number.POSITIVE_INFINITY ? null : maxOrigins,
  }
}

/**
 * Whether an Agent left to its defaults negotiates HTTP/2: undici 8's do (`allowH2` became true by default),
 * 6's and 7's do not. Its copy is told by its dispatch method, which in undici 8 alone reports errors through
 * `onResponseError` (8 dropped the callback handlers 6 and 7 speak): the protocol an app's Agent spoke is kept.
 */
export function negotiatesH2ByDefault(agent: object): boolean {
  const dispatch = (Object.getPrototypeOf(agent) as { dispatch?: unknown } | null)?.dispatch
  return typeof dispatch === 'function' && Function.prototype.toString.call(dispatch).includes('onResponseError')
}
