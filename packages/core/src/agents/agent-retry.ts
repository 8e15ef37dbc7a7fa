import type { Agent as HttpAgent } from 'node:http'

/**
 * What a node:http agent hands a client integration with a request that died on a stale reused socket and is
 * safe to send again: node:http never replays a request it already handed its caller, so the client sends it
 * again, through `agent`, whose next request goes on a new connection. A registered symbol, so copies of this
 * package (ESM and CommonJS builds) understand each other.
 */
export interface AgentRetry {
  /** Takes the request on a new connection of the same pool (its `maxSockets` holds), never on an idle socket. */
  readonly agent: HttpAgent
  /** The agent's protocol: which of a client's agent options it goes in. */
  readonly protocol: 'http:' | 'https:'
  /**
   * The method of the request that failed: the client sends the request again only if it is the one it
   * asked for (a redirect may have turned a POST into a GET on the way).
   */
  readonly method: string
  /**
   * Asks the origin's retry budget, then counts the retry and says so (`staleguard:retry`, NODE_DEBUG); false:
   * the budget is spent, do not send it. The same answer every time it is asked.
   */
  sending(): boolean
}

const kAgentRetry = Symbol.for('staleguard.agentRetry.v1')

export function attachAgentRetry(error: Error, retry: AgentRetry): void {
  if (!Object.isExtensible(error)) return
  Object.defineProperty(error, kAgentRetry, { value: retry, configurable: true, enumerable: false })
}

/**
 * The retry a staleguard agent allows for this failure, found on the error or its causes (axios and got wrap
 * node:http's error), or null: not from a staleguard agent, not stale, not safe to send twice, or a retry already.
 */
export function agentRetryOf(error: unknown): AgentRetry | null {
  let current: unknown = error
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const found = (current as { [kAgentRetry]?: AgentRetry })[kAgentRetry]
    if (found) return found
    current = (current as { cause?: unknown }).cause
  }
  return null
}
