import { createFetch } from '@staleguard/core'
import { type LabClient, fetchClient, runBursts, runSteady, startUpstream } from '@staleguard/lab'
import { Agent } from 'undici'
import { describe, expect, it } from 'vitest'

/**
 * What `protectUnreplayable` costs in connections, counted at the upstream: the same traffic from staleguard
 * and from a plain undici Agent, side by side, each to its own upstream. No hop drops anything here: every
 * connection staleguard opens beyond the Agent's is the price of never writing a POST on a suspect socket.
 */
async function sideBySide<T>(
  traffic: (client: LabClient, origin: string, tag: string) => Promise<T>,
): Promise<{ staleguard: T; agent: T; staleguardConnections: number; agentConnections: number; movedPosts: number }> {
  const [forStaleguard, forAgent] = await Promise.all([startUpstream(), startUpstream()])
  const staleguardFetch = createFetch()
  const agent = new Agent()
  const plain = fetchClient('plain Agent', ((url: string, init?: RequestInit) =>
    fetch(url, { ...init, dispatcher: agent } as unknown as RequestInit)) as typeof fetch)
  try {
    const [staleguard, viaAgent] = await Promise.all([
      traffic(fetchClient('staleguard', staleguardFetch), forStaleguard.origin, 'staleguard'),
      traffic(plain, forAgent.origin, 'agent'),
    ])
    return {
      staleguard,
      agent: viaAgent,
      staleguardConnections: forStaleguard.connections,
      agentConnections: forAgent.connections,
      movedPosts: staleguardFetch.dispatcher.stats().unreplayableOnNewConnection,
    }
  } finally {
    await Promise.all([staleguardFetch.dispatcher.close(), agent.close()])
    await Promise.all([forStaleguard.close(), forAgent.close()])
  }
}

describe('what protecting POSTs costs in connections', () => {
  it('steady traffic, 50 req/s for 10 s, half POSTs without a key: ≤ 1 % extra connections', async () => {
    const plan = { ratePerSecond: 50, seconds: 10, responseMs: 20, methods: ['GET', 'POST', 'PUT', 'POST'] }
    const run = await sideBySide((client, origin, tag) => runSteady(client, origin, tag, plan))
    const extra = run.staleguardConnections - run.agentConnections
    console.log(
      `[cost] steady ${run.staleguard.sent} requests: staleguard ${run.staleguardConnections} connections (${run.movedPosts} POSTs moved), plain Agent ${run.agentConnections}`,
    )
    expect(run.staleguard.lost).toBe(0)
    expect(run.agent.lost).toBe(0)
    expect(extra).toBeLessThanOrEqual(Math.floor(run.staleguard.sent * 0.01))
    expect(run.movedPosts).toBeLessThanOrEqual(Math.floor(run.staleguard.sent * 0.01))
  })

  it.for([
    { shape: 'sequential' as const, inFlight: 1 },
    { shape: 'parallel' as const, inFlight: 4 },
  ])(
    'after idle gaps, $shape: at most one extra connection per POST in flight per gap',
    async ({ shape, inFlight }) => {
      const gaps = 5
      const run = await sideBySide((client, origin, tag) =>
        runBursts(
          (i) =>
            client.send(
              `${origin}/gap/${tag}/${i}`,
              i % 2 === 0 ? { method: 'POST', body: `${i}` } : { method: 'GET' },
            ),
          { bursts: gaps, burstSize: 8, shape, gapMs: 600 },
        ),
      )
      const extra = run.staleguardConnections - run.agentConnections
      console.log(
        `[cost] ${gaps} gaps of 600 ms, ${shape}: staleguard ${run.staleguardConnections} connections (${run.movedPosts} POSTs moved), plain Agent ${run.agentConnections}`,
      )
      expect(run.staleguard.failed).toBe(0)
      expect(extra).toBeLessThanOrEqual(gaps * inFlight)
      expect(run.movedPosts).toBeGreaterThan(0)
    },
  )
})
