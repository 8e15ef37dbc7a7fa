import type { buildConnector as BuildConnector } from 'undici'
import type { OriginOptions } from '../config/options.js'
import type { ProxyPlan } from '../proxy/proxy-plan.js'

/** The settings staleguard takes over under its own option names (`connect` merges key by key). */
export type InheritedOptions = Pick<
  OriginOptions,
  | 'connections'
  | 'headersTimeout'
  | 'bodyTimeout'
  | 'keepAliveTimeout'
  | 'keepAliveMaxTimeout'
  | 'allowH2'
  | 'maxRequestsPerConnection'
  | 'maxConnectionAge'
  | 'connect'
>

/**
 * What a staleguard dispatcher takes over from the dispatcher it is built to stand in for (the global one in
 * place when it is made): the settings that decide where a request goes, how it authenticates, how many
 * connections it opens and how long it may take. Read from an undici `Agent`, `EnvHttpProxyAgent` or
 * `ProxyAgent` (any copy, composed or not), or handed on by a staleguard dispatcher in place.
 */
export interface InheritedBase {
  /** What it was read from, for messages and `NODE_DEBUG=staleguard`: `Agent`, `EnvHttpProxyAgent`, … */
  readonly source: string
  readonly options: InheritedOptions
  /**
   * undici Client options staleguard has no option of its own for (`maxResponseSize`, `localAddress`,
   * `pipelining`, `maxHeaderSize`…), passed to every connection it opens, as they were given.
   */
  readonly clientOptions: Readonly<Record<string, unknown>>
  /** The Agent's own connector, when it was given one (`connect` as a function). */
  readonly connector: BuildConnector.connector | null
  /** Which proxy each origin went through (direct for an Agent); null when nothing said (then `proxy`'s default). */
  readonly proxy: ProxyPlan | null
  /** The highest number of origins the Agent served (`maxOrigins`), or null for no limit. */
  readonly maxOrigins: number | null
}

/** Nothing inherited: what a staleguard dispatcher builds on when nothing readable is in place. */
export const NOTHING_INHERITED: InheritedBase = {
  source: 'nothing',
  options: {},
  clientOptions: {},
  connector: null,
  proxy: null,
  maxOrigins: null,
}

/** The names of what a base carries, for the debug line (`connect.lookup`, `connections`, `maxResponseSize`…). */
export function inheritedNames(base: InheritedBase): string[] {
  const names: string[] = []
  for (const [key, value] of Object.entries(base.options)) {
    if (value === undefined) continue
    if (key === 'connect' && typeof value === 'object' && value !== null) {
      for (const [name, setting] of Object.entries(value)) if (setting !== undefined) names.push(`connect.${name}`)
    } else names.push(key)
  }
  for (const [key, value] of Object.entries(base.clientOptions)) if (value !== undefined) names.push(key)
  if (base.connector !== null) names.push('connect (a connector function)')
  if (base.maxOrigins !== null) names.push('maxOrigins')
  return names
}
