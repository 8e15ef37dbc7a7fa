import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createDispatcher, getStaleguardDiagnostics } from '@staleguard/core'
import { type FaultProxy, sleep, startFaultProxy } from '@staleguard/lab'
import { Agent, type Dispatcher, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * An upstream that crashes under load, again and again: each time, a new process is up behind the front (a
 * TCP proxy, as a load balancer) and the old one is SIGKILLed with requests in flight on reused connections.
 * Every connection dies at once. That is an incident, not a request limit: staleguard must learn nothing from
 * it, so that the next incident finds requests on reused connections again and retries them, and reuse after
 * the incidents is what a plain Agent's is.
 */

const CRASH_UPSTREAM = fileURLToPath(new URL('./fixtures/crash-upstream.mjs', import.meta.url))
const INCIDENTS = 6
const WORKERS = 16
const BETWEEN_MS = 700
/**
 * Each kill after the first comes about a second after the one before: the length of staleguard's incident
 * window, so that a crash's deaths, spread by the event loop, straddle the end of the last incident's window.
 * A window that ended among them once left two deaths of a crash, after as many requests each, to teach a
 * request limit; a crash landing at these offsets must teach nothing either.
 */
const KILL_AFTER_LAST_MS = [990, 1_000, 1_010, 995, 1_005]

interface Upstream {
  readonly port: number
  readonly child: ChildProcess
  /** Requests it read, and the connections they came on. */
  requests: number
  readonly connections: Set<string>
}

/** Every request id the upstream processes have read, from all of them. */
const received: string[] = []

async function startUpstreamProcess(): Promise<Upstream> {
  const child = spawn(process.execPath, [CRASH_UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })
  const counts = { requests: 0, connections: new Set<string>() }
  const port = await new Promise<number>((resolve) => {
    lines.on('line', (line) => {
      const [kind, , id, connection] = line.split(' ')
      if (kind === 'listening') resolve(Number(line.split(' ')[1]))
      else if (kind === 'req' && id !== undefined) {
        received.push(id)
        counts.requests++
        counts.connections.add(String(connection))
      }
    })
  })
  return Object.assign(counts, { port, child })
}

async function kill(upstream: Upstream): Promise<void> {
  upstream.child.kill('SIGKILL')
  if (upstream.child.exitCode === null && upstream.child.signalCode === null) await once(upstream.child, 'exit')
}

interface Traffic {
  readonly sent: Map<string, 'GET' | 'POST'>
  readonly failed: { id: string; method: string; error: unknown }[]
  inFlight: number
  stop(): Promise<void>
}

/** WORKERS callers, each one request after another: GETs to `/slow?ms=20`, every fifth a POST without a key. */
function startTraffic(dispatcher: Dispatcher, front: FaultProxy, tag: string, posts = true): Traffic {
  let running = true
  let n = 0
  const traffic: Traffic = { sent: new Map(), failed: [], inFlight: 0, stop: async () => {} }
  const workers = Array.from({ length: WORKERS }, async () => {
    while (running) {
      const id = `${tag}-${n++}`
      const method = posts && n % 5 === 0 ? 'POST' : 'GET'
      traffic.sent.set(id, method)
      traffic.inFlight++
      try {
        const { body } = await request(`${front.origin}/slow?ms=20&id=${id}`, {
          dispatcher,
          method,
          ...(method === 'POST' ? { body: `order ${id}` } : {}),
        })
        await body.text()
      } catch (error) {
        traffic.failed.push({ id, method, error })
      } finally {
        traffic.inFlight--
      }
    }
  })
  traffic.stop = async () => {
    running = false
    await Promise.all(workers)
  }
  return traffic
}

/** Runs the incidents through `dispatcher`; returns its traffic and the least in flight at any kill. */
async function crashRepeatedly(
  dispatcher: Dispatcher,
  front: FaultProxy,
  current: { upstream: Upstream },
  tag: string,
) {
  const traffic = startTraffic(dispatcher, front, tag)
  let leastInFlight = Number.POSITIVE_INFINITY
  let lastKillAt = Number.NEGATIVE_INFINITY
  for (let incident = 0; incident < INCIDENTS; incident++) {
    await sleep(BETWEEN_MS)
    // The new process is up behind the front before the old one dies, as in a deploy or a supervised restart.
    const next = await startUpstreamProcess()
    front.targetPort = next.port
    if (incident > 0) {
      const wait = lastKillAt + KILL_AFTER_LAST_MS[(incident - 1) % KILL_AFTER_LAST_MS.length]! - performance.now()
      if (wait > 0) await sleep(wait)
    }
    const killAt = performance.now()
    leastInFlight = Math.min(leastInFlight, traffic.inFlight)
    console.log(
      `incident ${incident}: ${incident > 0 ? `${(killAt - lastKillAt).toFixed(0)} ms after the last, ` : ''}flows ${front.stats.flows} openFlows ${front.openFlows} inFlight ${traffic.inFlight} failed ${traffic.failed.length}`,
    )
    lastKillAt = killAt
    await kill(current.upstream)
    current.upstream = next
  }
  await sleep(BETWEEN_MS)
  await traffic.stop()
  return { traffic, leastInFlight }
}

/**
 * Requests per connection at the upstream process that came up in the last incident, once a steady second of
 * GETs has followed it: the connections that replaced the dead ones, and how well they are reused.
 */
async function requestsPerConnection(dispatcher: Dispatcher, front: FaultProxy, last: Upstream, tag: string) {
  const traffic = startTraffic(dispatcher, front, tag, false)
  await sleep(1_000)
  await traffic.stop()
  expect(traffic.failed).toEqual([])
  return last.requests / last.connections.size
}

describe('an upstream that crashes under load, repeatedly', () => {
  const current: { upstream: Upstream } = { upstream: undefined as never }
  let front: FaultProxy
  beforeAll(async () => {
    current.upstream = await startUpstreamProcess()
    front = await startFaultProxy({ port: current.upstream.port }, { kind: 'pass' })
  })
  afterAll(async () => {
    await front.close()
    await kill(current.upstream)
  })

  it('retries every GET on a reused connection in every incident, sends no POST twice, learns no limit, and reuses connections as before', async () => {
    const dispatcher = createDispatcher()
    const plain = new Agent()
    try {
      const { traffic, leastInFlight } = await crashRepeatedly(dispatcher, front, current, 'staleguard')
      const lostGets = traffic.failed.filter((f) => f.method === 'GET')
      const failedPosts = traffic.failed.filter((f) => f.method === 'POST').length
      const posts = [...traffic.sent].filter(([, method]) => method === 'POST').map(([id]) => id)
      const duplicated = posts.filter((id) => received.filter((r) => r === id).length > 1)

      // Right after its last incident, each measured over the same steady traffic.
      const perConnection = await requestsPerConnection(dispatcher, front, current.upstream, 'staleguard-after')
      const stats = dispatcher.stats().origins[front.origin]!
      const plainRun = await crashRepeatedly(plain, front, current, 'plain')
      const plainLost = plainRun.traffic.failed.filter((f) => f.method === 'GET').length
      const plainPerConnection = await requestsPerConnection(plain, front, current.upstream, 'plain-after')
      console.log(
        `[crash incidents] ${INCIDENTS} incidents, >= ${leastInFlight} in flight at each kill: ` +
          `staleguard lost ${lostGets.length} GETs of ${traffic.sent.size - posts.length}, ` +
          `${failedPosts} POSTs failed of ${posts.length}, ${duplicated.length} sent twice, ` +
          `retries ${stats.retries}, learnedRequestLimit ${stats.learnedRequestLimit}, ` +
          `learnedIdleLimitMs ${stats.learnedIdleLimitMs}; plain Agent lost ${plainLost} GETs; requests per ` +
          `connection after: staleguard ${perConnection.toFixed(1)}, plain ${plainPerConnection.toFixed(1)}`,
      )
      expect(leastInFlight).toBeGreaterThanOrEqual(10)
      // A GET on a reused connection is retried; one that was the first on a connection the pool had just
      // opened (undici's pool opens one whenever a request finds every other busy) is not: a failure on a new
      // connection may mean the server got it. So at most about one per incident, as in the first.
      const onReusedSockets = lostGets.filter(
        (f) => getStaleguardDiagnostics(f.error)?.retryDecision !== 'fresh-connection',
      )
      expect(onReusedSockets.map((f) => ({ id: f.id, diagnostics: getStaleguardDiagnostics(f.error) }))).toEqual([])
      expect(lostGets.length).toBeLessThanOrEqual(INCIDENTS)
      expect(duplicated).toEqual([])
      expect(stats.learnedRequestLimit).toBeNull()
      expect(stats.retries).toBeGreaterThanOrEqual(INCIDENTS * 5)
      expect(perConnection).toBeGreaterThanOrEqual(plainPerConnection * 0.8)
    } finally {
      await dispatcher.close()
      await plain.close()
    }
  })
})
