import type { OriginStats, StaleguardStats } from './stats.js'

/** One metric of {@link STALEGUARD_METRICS}. */
export interface MetricDefinition {
  /** The name without its prefix (`requests_total`; served as `staleguard_requests_total` by default). */
  readonly name: string
  /** The Prometheus type: counters only grow, gauges are the value now. */
  readonly type: 'counter' | 'gauge'
  /** The `# HELP` text. */
  readonly help: string
  /** Reads the metric from one origin's stats; null leaves that origin's sample out. */
  readonly value: (origin: OriginStats) => number | null
}

/**
 * The metric catalogue, once: the Prometheus text helper and the prom-client collector both read it, so
 * the names below are the documented ones in either case. Every metric has an `origin` label.
 */
export const STALEGUARD_METRICS: readonly MetricDefinition[] = [
  {
    name: 'requests_total',
    type: 'counter',
    help: 'Requests dispatched (a retried request counts once).',
    value: (o) => o.requests,
  },
  {
    name: 'reused_requests_total',
    type: 'counter',
    help: 'Attempts sent on a socket that had carried an earlier request.',
    value: (o) => o.reusedRequests,
  },
  {
    name: 'stale_failures_total',
    type: 'counter',
    help: 'Attempts that died on a reused socket before any response byte.',
    value: (o) => o.staleFailures,
  },
  {
    name: 'retries_total',
    type: 'counter',
    help: 'Requests re-sent on a new connection after a stale failure.',
    value: (o) => o.retries,
  },
  {
    name: 'retries_succeeded_total',
    type: 'counter',
    help: 'Retries that got a response.',
    value: (o) => o.retriesSucceeded,
  },
  {
    name: 'retries_denied_total',
    type: 'counter',
    help: 'Retries refused by the retry budget.',
    value: (o) => o.retriesDeniedByBudget,
  },
  {
    name: 'failed_requests_total',
    type: 'counter',
    help: 'Requests that ended in an error, for any reason.',
    value: (o) => o.failedRequests,
  },
  { name: 'sockets_opened_total', type: 'counter', help: 'Connections opened.', value: (o) => o.socketsOpened },
  {
    name: 'sockets_evicted_total',
    type: 'counter',
    help: 'Idle sockets closed by staleguard before a hop could kill them.',
    value: (o) => o.socketsEvicted,
  },
  {
    name: 'unreplayable_on_new_connection_total',
    type: 'counter',
    help: 'Requests that cannot be replayed sent on a new connection where the pool would have reused a socket idle longer than proven safe.',
    value: (o) => o.unreplayableOnNewConnection,
  },
  { name: 'open_sockets', type: 'gauge', help: 'Connections open now.', value: (o) => o.openSockets },
  {
    name: 'idle_limit_seconds',
    type: 'gauge',
    help: 'Idle time after which sockets are retired (learned or configured).',
    value: (o) => o.idleLimitMs / 1000,
  },
  {
    name: 'learned_idle_limit_seconds',
    type: 'gauge',
    help: 'Idle limit learned from stale failures (absent while the configured one applies).',
    value: (o) => (o.learnedIdleLimitMs === null ? null : o.learnedIdleLimitMs / 1000),
  },
  {
    name: 'requests_per_socket',
    type: 'gauge',
    help: 'Attempts written per connection opened: how well keep-alive holds.',
    value: (o) => o.requestsPerSocket,
  },
  {
    name: 'learned_request_limit',
    type: 'gauge',
    help: "Requests after which the origin's connections die, once learned (absent until then).",
    value: (o) => o.learnedRequestLimit,
  },
]

/** Anything with staleguard counters: a dispatcher, `app.staleguard`, an Express/Koa middleware, or a function. */
export type StatsSource = { stats(): StaleguardStats | undefined } | (() => StaleguardStats | undefined)

function readStats(source: StatsSource): StaleguardStats | undefined {
  return typeof source === 'function' ? source() : source.stats()
}

/** Options of {@link formatPrometheusMetrics} and {@link registerPromClientMetrics}. */
export interface MetricsOptions {
  /** Prepended to every metric name, as is (Prometheus names match `[a-zA-Z_:][a-zA-Z0-9_:]*`). Default `staleguard_`. */
  prefix?: string
}

/** The counters in Prometheus text exposition format (version 0.0.4), ready to serve at `/metrics`. */
export function formatPrometheusMetrics(source: StatsSource, options: MetricsOptions = {}): string {
  const prefix = options.prefix ?? 'staleguard_'
  const origins = Object.values(readStats(source)?.origins ?? {})
  const lines: string[] = []
  for (const metric of STALEGUARD_METRICS) {
    const name = prefix + metric.name
    lines.push(`# HELP ${name} ${metric.help}`, `# TYPE ${name} ${metric.type}`)
    for (const origin of origins) {
      const value = metric.value(origin)
      if (value !== null) lines.push(`${name}{origin="${escapeLabel(origin.origin)}"} ${value}`)
    }
  }
  return `${lines.join('\n')}\n`
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** The part of prom-client staleguard uses; pass the module you already have (`import * as client from 'prom-client'`). */
export interface PromClientLike<Registry> {
  /** prom-client's `Counter` class: one per counter metric, set from the stats at each scrape. */
  Counter: new (
    config: PromMetricConfig<Registry>,
  ) => { reset(): void; inc(labels: Record<string, string>, value: number): void }
  /** prom-client's `Gauge` class: one per gauge metric. */
  Gauge: new (
    config: PromMetricConfig<Registry>,
  ) => { reset(): void; set(labels: Record<string, string>, value: number): void }
}

/** The configuration staleguard passes to prom-client's `Counter` and `Gauge` constructors. */
export interface PromMetricConfig<Registry> {
  /** The metric's full name, prefix included. */
  name: string
  /** Its help text. */
  help: string
  /** Always `['origin']`. */
  labelNames: string[]
  /** The registries passed to `registerPromClientMetrics` (prom-client's global one when left out). */
  registers?: Registry[]
  /** Reads the stats when the registry is scraped. */
  collect?: () => void
}

/**
 * Registers staleguard's metrics with prom-client: each is read from `stats()` when the registry is
 * scraped, so nothing runs on the request path. prom-client stays optional: you pass in your own module.
 * Returns the registered metric names.
 */
export function registerPromClientMetrics<Registry>(
  client: PromClientLike<Registry>,
  source: StatsSource,
  options: MetricsOptions & { registers?: Registry[] } = {},
): string[] {
  const prefix = options.prefix ?? 'staleguard_'
  const names: string[] = []
  for (const metric of STALEGUARD_METRICS) {
    const config = {
      name: prefix + metric.name,
      help: metric.help,
      labelNames: ['origin'],
      ...(options.registers ? { registers: options.registers } : {}),
    }
    const each = (apply: (labels: Record<string, string>, value: number) => void): void => {
      for (const origin of Object.values(readStats(source)?.origins ?? {})) {
        const value = metric.value(origin)
        if (value !== null) apply({ origin: origin.origin }, value)
      }
    }
    if (metric.type === 'counter') {
      const counter: InstanceType<PromClientLike<Registry>['Counter']> = new client.Counter({
        ...config,
        collect: () => {
          counter.reset()
          each((labels, value) => counter.inc(labels, value))
        },
      })
    } else {
      const gauge: InstanceType<PromClientLike<Registry>['Gauge']> = new client.Gauge({
        ...config,
        collect: () => {
          gauge.reset()
          each((labels, value) => gauge.set(labels, value))
        },
      })
    }
    names.push(config.name)
  }
  return names
}
