import { type BurstResult, runBursts } from './bursts.js'
import type { LabClient } from './clients.js'
import { type FaultProxy, startFaultProxy } from './fault-proxy.js'
import { startHaproxy } from './haproxy.js'
import { type ProxyProcess, startNginx } from './nginx.js'
import { requireTool } from './tools.js'
import type { Upstream } from './upstream.js'

/** The idle timeout every lab hop uses, short so that a run of many idle gaps takes seconds. */
export const HOP_IDLE_MS = 300

/**
 * The hops the lab puts between client and upstream:
 * - `silent-drop`: NAT / NLB / Azure LB forgetting idle flows, RST on the next packet;
 * - `fin-race`: a proxy closing idle flows whose FIN is still in flight when the client sends;
 * - `nginx`, `haproxy`: the real proxies with a short client keep-alive timeout.
 */
export type HopKind = 'silent-drop' | 'fin-race' | 'nginx' | 'haproxy'

export const HOP_DESCRIPTIONS: Record<HopKind, string> = {
  'silent-drop': `NAT/NLB forgets flows idle > ${HOP_IDLE_MS} ms, RST on next packet`,
  'fin-race': `proxy closes flows idle ${HOP_IDLE_MS} ms; its FIN lands 150 ms later`,
  nginx: `nginx as usually configured (keepalive 64), keepalive_timeout ${HOP_IDLE_MS}ms`,
  haproxy: `HAProxy, timeout http-keep-alive ${HOP_IDLE_MS}ms`,
}

export interface Hop {
  readonly kind: HopKind
  readonly origin: string
  /** The fault proxy, for its counters (null for nginx / HAProxy). */
  readonly proxy: FaultProxy | null
  /** The idle gap before burst `b`: one that makes pooled sockets stale on this hop. */
  gapMs(burst: number): number
  close(): Promise<void>
}

const FIN_DELAY_MS = 150

/** Starts a hop in front of the upstream; null when nginx/HAProxy is not installed (outside CI only). */
export async function startHop(kind: HopKind, upstream: Pick<Upstream, 'port'>): Promise<Hop | null> {
  switch (kind) {
    case 'silent-drop': {
      const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: HOP_IDLE_MS })
      return faultHop(kind, proxy, () => HOP_IDLE_MS + 100)
    }
    case 'fin-race': {
      const proxy = await startFaultProxy(
        { port: upstream.port },
        { kind: 'fin-race', idleMs: HOP_IDLE_MS, finDelayMs: FIN_DELAY_MS },
      )
      // Inside the window where the hop has closed the flow but its FIN has not arrived yet.
      return faultHop(kind, proxy, (b) => HOP_IDLE_MS + 40 + ((b * 37) % (FIN_DELAY_MS - 80)))
    }
    case 'nginx':
    case 'haproxy': {
      const binary = requireTool(kind)
      if (binary === null) return null
      const process: ProxyProcess =
        kind === 'nginx'
          ? await startNginx({ binary, upstreamPort: upstream.port, keepAliveTimeoutMs: HOP_IDLE_MS })
          : await startHaproxy({ binary, upstreamPort: upstream.port, keepAliveTimeoutMs: HOP_IDLE_MS })
      // Around the proxy's own timeout, where its close and the next request race.
      return {
        kind,
        origin: process.origin,
        proxy: null,
        gapMs: (b) => HOP_IDLE_MS - 20 + ((b * 13) % 60),
        close: () => process.close(),
      }
    }
  }
}

function faultHop(kind: HopKind, proxy: FaultProxy, gapMs: (burst: number) => number): Hop {
  return { kind, origin: proxy.origin, proxy, gapMs, close: () => proxy.close() }
}

export type WorkloadMethod = 'GET' | 'PUT' | 'DELETE' | 'POST' | 'PATCH'

export interface Workload {
  /** The method of every request; or, with `alternate`, of the even-numbered ones. */
  readonly method: WorkloadMethod
  /** The method of the odd-numbered requests: mixed traffic (`POST` with `GET`: POST, GET, POST, …). */
  readonly alternate?: WorkloadMethod
  /** Send an `Idempotency-Key` header. */
  readonly idempotencyKey?: boolean
  readonly shape: 'parallel' | 'sequential'
  readonly bursts: number
  readonly burstSize: number
}

export interface WorkloadResult extends BurstResult {
  /** Requests the caller did not get a response for. */
  readonly lost: number
  /** Of those, by method. */
  readonly lostByMethod: Readonly<Partial<Record<WorkloadMethod, number>>>
  /** Requests the upstream received more than once. */
  readonly duplicated: number
  /** Requests the upstream received at least once. */
  readonly delivered: number
}

let runs = 0

/**
 * Runs bursts of one kind of request through a hop and counts, at the upstream, how often each request
 * arrived: every request has its own path, so a replay shows up as a duplicate.
 */
export async function runWorkload(
  client: LabClient,
  hop: Pick<Hop, 'origin' | 'gapMs'>,
  upstream: Pick<Upstream, 'received'>,
  workload: Workload,
): Promise<WorkloadResult> {
  const run = `r${++runs}-${process.pid}`
  const prefix = `/w/${run}/`
  const methodOf = (i: number): WorkloadMethod =>
    workload.alternate !== undefined && i % 2 === 1 ? workload.alternate : workload.method
  const lostByMethod: Partial<Record<WorkloadMethod, number>> = {}
  const result = await runBursts(
    (i) => {
      const method = methodOf(i)
      const withBody = method !== 'GET' && method !== 'DELETE'
      return client
        .send(`${hop.origin}${prefix}${i}`, {
          method,
          ...(withBody ? { body: JSON.stringify({ run, i }) } : {}),
          ...(workload.idempotencyKey ? { headers: { 'idempotency-key': `${run}-${i}` } } : {}),
        })
        .catch((error: unknown) => {
          lostByMethod[method] = (lostByMethod[method] ?? 0) + 1
          throw error
        })
    },
    { bursts: workload.bursts, burstSize: workload.burstSize, shape: workload.shape, gapMs: (b) => hop.gapMs(b) },
  )
  const arrivals = new Map<string, number>()
  for (const request of upstream.received) {
    if (request.path.startsWith(prefix)) arrivals.set(request.path, (arrivals.get(request.path) ?? 0) + 1)
  }
  let duplicated = 0
  for (const count of arrivals.values()) if (count > 1) duplicated++
  return { ...result, lost: result.failed, lostByMethod, duplicated, delivered: arrivals.size }
}
