/**
 * Connections opened, and requests per connection, for a plain undici Agent and for staleguard on the same
 * traffic, counted at the upstream: what protection costs (or saves) in connections. Not a speed benchmark:
 * the counts are the same on any machine, give or take a connection.
 */
import { createDispatcher } from '@staleguard/core'
import { sleep, startFaultProxy, startUpstream, type Upstream, type UpstreamOptions } from '@staleguard/lab'
import { Agent, type Dispatcher, request } from 'undici'

export interface ConnectionCounts {
  readonly scenario: string
  readonly agent: { readonly connections: number; readonly lost: number }
  readonly staleguard: { readonly connections: number; readonly lost: number }
  readonly requests: number
}

type Traffic = (dispatcher: Dispatcher, origin: string) => Promise<{ sent: number; lost: number }>

const send = (dispatcher: Dispatcher, url: string) =>
  request(url, { dispatcher }).then(
    (r) => r.body.text().then(() => r.statusCode === 200),
    () => false,
  )

function callers(count: number, total: number): Traffic {
  return async (dispatcher, origin) => {
    let next = 0
    let lost = 0
    await Promise.all(
      Array.from({ length: count }, async () => {
        while (next < total) if (!(await send(dispatcher, `${origin}/r/${next++}`))) lost++
      }),
    )
    return { sent: total, lost }
  }
}

async function compare(
  scenario: string,
  upstreamOptions: UpstreamOptions,
  traffic: Traffic,
  options: { staleguard?: Parameters<typeof createDispatcher>[0]; throughProxy?: boolean } = {},
): Promise<ConnectionCounts> {
  const measure = async (make: () => Dispatcher) => {
    const upstream: Upstream = await startUpstream(upstreamOptions)
    const proxy = options.throughProxy
      ? await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 300 })
      : null
    const dispatcher = make()
    try {
      const { sent, lost } = await traffic(dispatcher, proxy?.origin ?? upstream.origin)
      return { connections: upstream.connections, lost, sent }
    } finally {
      await dispatcher.close()
      await proxy?.close()
      await upstream.close()
    }
  }
  const agent = await measure(() => new Agent())
  const staleguard = await measure(() => createDispatcher(options.staleguard))
  return {
    scenario,
    requests: staleguard.sent,
    agent: { connections: agent.connections, lost: agent.lost },
    staleguard: { connections: staleguard.connections, lost: staleguard.lost },
  }
}

export async function benchConnections(): Promise<ConnectionCounts[]> {
  const results = [
    await compare('steady load, 8 callers back to back', {}, callers(8, 4_000)),
    await compare('Connection: close every 3rd response, sequential', { closeEveryNthResponse: 3 }, callers(1, 150)),
    await compare(
      'silent close after 3 responses, 4 callers, connections: 1',
      { silentCloseAfterResponses: 3 },
      callers(4, 150),
      { staleguard: { connections: 1 } },
    ),
    await compare(
      'after stale events: 6 idle gaps past a 300 ms hop, 30 GETs after each',
      {},
      async (dispatcher, origin) => {
        let lost = 0
        for (let round = 0; round < 6; round++) {
          await sleep(400)
          for (let i = 0; i < 30; i++) if (!(await send(dispatcher, `${origin}/g/${round}/${i}`))) lost++
        }
        return { sent: 180, lost }
      },
      { throughProxy: true },
    ),
  ]
  console.log('\nconnections opened (counted at the upstream) and requests per connection')
  console.log('| scenario | requests | plain Agent | staleguard |')
  console.log('|---|---|---|---|')
  const cell = (c: { connections: number; lost: number }, requests: number) =>
    `${c.connections} (${(requests / c.connections).toFixed(1)} per connection${c.lost ? `, ${c.lost} lost` : ''})`
  for (const r of results)
    console.log(`| ${r.scenario} | ${r.requests} | ${cell(r.agent, r.requests)} | ${cell(r.staleguard, r.requests)} |`)
  return results
}
