import http from 'node:http'
import https from 'node:https'
import type { AgentOptions as HttpsAgentOptions } from 'node:https'
import { StaleguardOptionError } from '../config/options.js'
import { type StaleguardAgentOptions, prepareAgent } from './agent-options.js'
import { StaleguardHttpAgent, StaleguardHttpsAgent } from './http-agents.js'

/** What `installGlobalAgents` put in place, and how to give back what was there. */
export interface GlobalAgentsInstallation {
  /** Now `http.globalAgent`: every `http.request` / `http.get` without an `agent` of its own goes through it. */
  readonly httpAgent: StaleguardHttpAgent
  /** Now `https.globalAgent`. */
  readonly httpsAgent: StaleguardHttpsAgent
  /** Puts the previous global agents back and closes the sockets of these two. Idempotent. */
  restore(): void
}

/**
 * Puts staleguard agents in `http.globalAgent` and `https.globalAgent`, so every node:http client that takes
 * the global agent (axios, got, node-fetch v2, `http.get`, many SDKs) is protected. The settings of the agents
 * in place (`keepAlive`, `timeout`, `maxSockets`, `ca`, `proxyEnv`…) are kept, under `agentOptions`, which win;
 * an agent in place that is not node:http's own (agentkeepalive, a subclass) cannot be read and is refused with
 * a {@link StaleguardOptionError}, unless `inherit: false`. Both agents share one per-origin state: the
 * `dispatcher`'s when one is given.
 */
export function installGlobalAgents(options: StaleguardAgentOptions = {}): GlobalAgentsInstallation {
  const previousHttp = http.globalAgent
  const previousHttps = https.globalAgent
  const inherit = options.inherit !== false
  const inheritedHttp = inherit ? settingsOf(previousHttp, 'http', http.Agent) : {}
  const inheritedHttps = inherit ? settingsOf(previousHttps, 'https', https.Agent) : {}
  // One per-origin state for both: made once, handed to both agents as a shared dispatcher. (With a
  // `dispatcher` given, this only checks that no option was given beside it.)
  const prepared = prepareAgent({ ...options, agentOptions: {} })
  const shared = options.dispatcher === undefined ? prepared : null
  const base = shared === null ? { dispatcher: options.dispatcher } : { dispatcher: shared.ownRegistry! }
  // `connections` is the dispatcher's per-origin cap: node:http's is `maxSockets`, per host and port.
  const cap = options.connections === undefined ? {} : { maxSockets: options.connections }
  const httpAgent = new StaleguardHttpAgent({
    ...base,
    agentOptions: { ...inheritedHttp, ...cap, ...options.agentOptions },
  })
  const httpsAgent = new StaleguardHttpsAgent({
    ...base,
    agentOptions: { ...inheritedHttps, ...cap, ...options.agentOptions },
  })
  const installed: Installed = { httpAgent, httpsAgent, previousHttp, previousHttps }
  installations.push(installed)
  http.globalAgent = httpAgent
  https.globalAgent = httpsAgent
  let restored = false
  return {
    httpAgent,
    httpsAgent,
    restore() {
      if (restored) return
      restored = true
      giveBack(installed)
      // Requests in flight finish; their sockets close as they come free, the idle ones now.
      httpAgent.close()
      httpsAgent.close()
      void shared?.ownRegistry?.close()
    },
  }
}

interface Installed {
  readonly httpAgent: http.Agent
  readonly httpsAgent: https.Agent
  previousHttp: http.Agent
  previousHttps: https.Agent
}

/** Every installation not restored yet, in the order made: restored out of order, the chain still holds. */
const installations: Installed[] = []

function giveBack(installed: Installed): void {
  const at = installations.indexOf(installed)
  if (at === -1) return
  installations.splice(at, 1)
  // The one installed over it now stands on what it stood on.
  const above = installations.find((other) => other.previousHttp === installed.httpAgent)
  if (above !== undefined) above.previousHttp = installed.previousHttp
  const aboveHttps = installations.find((other) => other.previousHttps === installed.httpsAgent)
  if (aboveHttps !== undefined) aboveHttps.previousHttps = installed.previousHttps
  if (http.globalAgent === installed.httpAgent) http.globalAgent = installed.previousHttp
  if (https.globalAgent === installed.httpsAgent) https.globalAgent = installed.previousHttps
}

/** The options node:http's own Agent was made with; any other agent's cannot be known. */
function settingsOf(agent: http.Agent, module: 'http' | 'https', NodeAgent: typeof http.Agent): HttpsAgentOptions {
  const isNodes =
    agent.constructor === NodeAgent || agent instanceof StaleguardHttpAgent || agent instanceof StaleguardHttpsAgent
  if (!isNodes) {
    const name = agent.constructor?.name || 'an unknown agent'
    throw new StaleguardOptionError(
      'inherit',
      `cannot take over ${module}.globalAgent, a ${name} whose settings staleguard cannot read: pass its settings as \`agentOptions\` with \`inherit: false\``,
      true,
    )
  }
  const { path: _path, ...settings } = (agent as unknown as { options: HttpsAgentOptions & { path?: unknown } }).options
  // Set on the agent after it was made (`http.globalAgent.maxSockets = 50`): those win over its options.
  const set = agent as unknown as Record<string, unknown>
  for (const key of ['maxSockets', 'maxFreeSockets', 'maxTotalSockets', 'keepAliveMsecs', 'scheduling'] as const) {
    const value = set[key]
    if (value !== undefined && value !== Number.POSITIVE_INFINITY) (settings as Record<string, unknown>)[key] = value
  }
  return settings
}
