import type { AgentOptions as HttpsAgentOptions } from 'node:https'
import { StaleguardOptionError, type StaleguardOptions } from '../config/options.js'
import { validateOptions } from '../config/resolve-options.js'
import { StaleguardDispatcher, kOriginStateFor } from '../dispatch/staleguard-dispatcher.js'
import type { OriginRegistry } from './agent-sockets.js'

/**
 * Options of `createHttpAgent`, `createHttpsAgent` and `installGlobalAgents`: the dispatcher's where they apply
 * to node:http (the idle limits, `upstream` presets, `origins`, learning, `maxConnectionAge`,
 * `maxRequestsPerConnection`, `protectUnreplayable`, `retry`; `connections` becomes `maxSockets`), and the
 * agent's own.
 */
export interface StaleguardAgentOptions extends StaleguardOptions {
  /**
   * node:http / node:https Agent options (`ca`, `cert`, `key`, `maxSockets`, `maxTotalSockets`, `timeout`,
   * `lookup`…), given to the Agent as they are. `keepAlive` is always on: pooling is what staleguard protects.
   */
  agentOptions?: HttpsAgentOptions
  /**
   * A staleguard dispatcher whose per-origin state the agent shares (an adapter's, `installGlobalDispatcher()`'s):
   * one memory per origin, whichever client found its limits. Its options apply; none may be given beside it.
   */
  dispatcher?: StaleguardDispatcher
}

/** What an agent is built from: node:http's options, and where its origins' state lives. */
export interface PreparedAgent {
  readonly agentOptions: HttpsAgentOptions
  readonly registry: OriginRegistry
  /** The dispatcher the agent made for its origins' state, which nothing else uses (null: a shared one). */
  readonly ownRegistry: StaleguardDispatcher | null
}

const AGENT_KEYS = ['agentOptions', 'dispatcher']

export function prepareAgent(options: StaleguardAgentOptions = {}): PreparedAgent {
  const { agentOptions = {}, dispatcher, ...staleguardOptions } = options
  if (typeof agentOptions !== 'object' || agentOptions === null)
    throw new StaleguardOptionError('agentOptions', 'must be an object of node:http Agent options', agentOptions)
  if (dispatcher !== undefined) {
    if (!(dispatcher instanceof StaleguardDispatcher))
      throw new StaleguardOptionError('dispatcher', 'must be a staleguard dispatcher (createDispatcher())', dispatcher)
    const given = Object.keys(staleguardOptions).filter((key) => key !== 'inherit')
    if (given.length > 0)
      throw new StaleguardOptionError(
        given[0]!,
        'cannot be given beside `dispatcher`: the agent shares that dispatcher’s per-origin options',
        staleguardOptions[given[0] as keyof StaleguardOptions],
      )
    return { agentOptions: withDefaults(agentOptions, null), registry: registryOf(dispatcher), ownRegistry: null }
  }
  validateOptions(staleguardOptions, AGENT_KEYS)
  // Nothing dispatches through it: it holds the per-origin state, limits and counters of these agents alone.
  const own = new StaleguardDispatcher({ ...staleguardOptions, inherit: false })
  return {
    agentOptions: withDefaults(agentOptions, staleguardOptions.connections ?? null),
    registry: registryOf(own),
    ownRegistry: own,
  }
}

function withDefaults(agentOptions: HttpsAgentOptions, connections: number | null): HttpsAgentOptions {
  const maxSockets = agentOptions.maxSockets ?? connections ?? undefined
  return { scheduling: 'lifo', ...agentOptions, keepAlive: true, ...(maxSockets === undefined ? {} : { maxSockets }) }
}

function registryOf(dispatcher: StaleguardDispatcher): OriginRegistry {
  return { originStateFor: (origin) => dispatcher[kOriginStateFor](origin), stats: () => dispatcher.stats() }
}
