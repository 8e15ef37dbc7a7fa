/**
 * Connections opened, and requests per connection, for a plain undici Agent and for staleguard on the same
 * traffic, counted at the upstream: what protection costs (or saves) in connections. Not a speed benchmark:
 * the counts are the same on any machine, give or take a connection.
 */
import { StaleguardDispatcher, createDispatcher } from '@staleguard/core'
import {
  type LabClient,
  runBursts,
  runSteady,
  sleep,
  startFaultProxy,
  startUpstream,
  type Upstream,
  type UpstreamOptions,
} from '@staleguard/lab'
import { Agent, type Dispatcher, request } from 'undici'

export interface ConnectionCounts {
  readonly scenario: string
  readonly agent: { readonly connections: number; readonly lost: number }
  readonly staleguard: { readonly connections: number; readonly lost: number; readonly moved: number }
  readonly requests: number
}

type Traffic = (dispatcher: Dispatcher, origin: string) => Promise<{ sent: number; lost: number }>

const send = (dispatcher: Dispatcher, url: string) =>
  request(url, { dispatcher }).then(
    (r) => r.body.text().then(() => r.statusCode === 200),
    () => false,
  )

/** The dispatcher as a lab client: `undici.request`, the body read whole, a non-2xx status a failure. */
function labClient(dispatcher: Dispatcher): LabClient {
  return {
    name: 'bench',
    send: (url, init) =>
      request(url, {
        dispatcher,
        method: (init?.method ?? 'GET') as 'GET',
        body: init?.body as string | undefined,
      }).then(async (r) => {
        const text = await r.body.text()
        if (r.statusCode >= 300) throw new Error(`status ${r.statusCode}`)
        return text
      }),
    close: async () => {},
  }
}

/** POSTs without a key and GETs, half and half: what the protection of POSTs costs and saves. */
const MIXED = ['GET', 'POST', 'PUT', 'POST']

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
      const moved = dispatcher instanceof StaleguardDispatcher ? dispatcher.stats().unreplayableOnNewConnection : 0
      return { connections: upstream.connections, lost, sent, moved }
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
    staleguard: { connections: staleguard.connections, lost: staleguard.lost, moved: staleguard.moved },
  }
}

export async function benchConnections(): Promise<ConnectionCounts[]> {
  const results: ConnectionCounts[] = [
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
  results.push(
    await compare(
      'steady 50 req/s for 10 s (random arrivals, 20 ms responses), half POSTs without a key',
      {},
      (dispatcher, origin) =>
        runSteady(labClient(dispatcher), origin, 'bench', {
          ratePerSecond: 50,
          seconds: 10,
          responseMs: 20,
          methods: MIXED,
        }),
    ),
    await compare(
      'idle gaps: 6 gaps of 600 ms (no hop), 4 POSTs + 4 GETs in parallel after each',
      {},
      (dispatcher, origin) => gapTraffic(dispatcher, origin, 600),
    ),
    await compare(
      'idle gaps: 6 gaps of 400 ms past a 300 ms hop, 4 POSTs + 4 GETs in parallel after each',
      {},
      (dispatcher, origin) => gapTraffic(dispatcher, origin, 400),
      { throughProxy: true },
    ),
  )
  console.log('\nconnections opened (counted at the upstream) and requests per connection')
  console.log('| scenario | requests | plain Agent | staleguard |')
  console.log('|---|---|---|---|')
  const cell = (c: { connections: number; lost: number; moved?: number }, requests: number) =>
    `${c.connections} (${(requests / c.connections).toFixed(1)} per connection${c.lost ? `, ${c.lost} lost` : ''}${c.moved ? `, ${c.moved} POSTs on a new connection` : ''})`
  for (const r of results)
    console.log(`| ${r.scenario} | ${r.requests} | ${cell(r.agent, r.requests)} | ${cell(r.staleguard, r.requests)} |`)
  return results
}

/** Bursts of 4 POSTs without a key and 4 GETs at once, after idle gaps. */
async function gapTraffic(
  dispatcher: Dispatcher,
  origin: string,
  gapMs: number,
): Promise<{ sent: number; lost: number }> {
  const client = labClient(dispatcher)
  const result = await runBursts(
    (i) => client.send(`${origin}/gap/${i}`, i % 2 === 0 ? { method: 'POST', body: String(i) } : { method: 'GET' }),
    { bursts: 6, burstSize: 8, shape: 'parallel', gapMs },
  )
  return { sent: result.sent, lost: result.failed }
}
