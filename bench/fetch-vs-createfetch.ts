import { createFetch } from '@staleguard/core'
import { Agent } from 'undici'
import { type Contender, compare, pinToCpu, startBenchUpstream } from './harness.js'

/**
 * createFetch against the built-in fetch with an equivalent undici Agent (same keep-alive settings, same
 * undici copy): the price of staleguard's bookkeeping on the request path.
 */
export async function benchFetchVsCreateFetch(options: {
  rounds: number
  perRound: number
  inFlight: number
}): Promise<{ ratio: number; cpuRatio: number }> {
  const { origin, child } = await startBenchUpstream()
  pinToCpu(process.pid, 0)
  const agent = new Agent({ keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000, pipelining: 1 })
  const staleguardFetch = createFetch()
  const contenders: [Contender, Contender] = [
    {
      name: 'fetch + undici Agent',
      send: () =>
        fetch(origin + '/items', { dispatcher: agent } as unknown as RequestInit).then((r) => r.arrayBuffer()),
    },
    { name: 'createFetch (staleguard)', send: () => staleguardFetch(origin + '/items').then((r) => r.arrayBuffer()) },
  ]
  const result = await compare('createFetch vs fetch with an equivalent Agent', contenders, options)
  await Promise.all([agent.close(), staleguardFetch.dispatcher.close()])
  child.disconnect()
  return result
}
