// @opentelemetry/api is an optional peer dependency: core must load, and its published types must check,
// without it. The caller hands in its meter (or meter provider); the shapes below are the part of the API
// used here, structurally compatible with its `Meter` and `MeterProvider`, so the `.d.ts` names no package.

/** Attribute values, as `@opentelemetry/api` `Attributes` takes them. */
export type MetricAttributes = Record<string, string | number | boolean>

/** An observable instrument (`@opentelemetry/api` `Observable`). */
export interface ObservableInstrument {
  addCallback(callback: (result: { observe(value: number, attributes?: MetricAttributes): void }) => void): void
}

interface InstrumentOptions {
  description?: string
  unit?: string
  valueType?: number
}

/** What a batch callback is handed (`@opentelemetry/api` `BatchObservableResult`). */
interface BatchResult {
  observe(instrument: ObservableInstrument, value: number, attributes?: MetricAttributes): void
}

/** The part of `@opentelemetry/api`'s `Meter` staleguard uses. */
export interface OpenTelemetryMeter {
  createObservableCounter(name: string, options?: InstrumentOptions): ObservableInstrument
  createObservableUpDownCounter(name: string, options?: InstrumentOptions): ObservableInstrument
  createObservableGauge(name: string, options?: InstrumentOptions): ObservableInstrument
  addBatchObservableCallback(callback: (result: BatchResult) => void, observables: ObservableInstrument[]): void
  removeBatchObservableCallback(callback: (result: BatchResult) => void, observables: ObservableInstrument[]): void
}

/** The part of `@opentelemetry/api`'s `MeterProvider` staleguard uses. */
export interface OpenTelemetryMeterProvider {
  getMeter(name: string): OpenTelemetryMeter
}

import { STALEGUARD_METRICS, type StatsSource } from './metrics.js'
import type { OriginStats, StaleguardStats } from './stats.js'

/** Where the instruments are created: a meter of yours, or a provider to get staleguard's own meter from. */
export type OpenTelemetryMetricsOptions = { meter: OpenTelemetryMeter } | { meterProvider: OpenTelemetryMeterProvider }

/** What {@link registerOpenTelemetryMetrics} registered, and how to take it back. */
export interface OpenTelemetryMetricsRegistration {
  /** The instrument names, `staleguard.*` first, then `http.client.open_connections`. */
  readonly names: readonly string[]
  /** Stops observing: the instruments report nothing from the next collection on (call it before closing the dispatcher). */
  unregister(): void
}

/** The meter's name when staleguard gets one from a provider (the instrumentation scope in exported data). */
const OPENTELEMETRY_METER_NAME = '@staleguard/core'

/** `ValueType.INT` of @opentelemetry/api, by value: the enum is not imported at run time. */
const INT = 0

/**
 * The OpenTelemetry units (UCUM, `{…}` for counted things) of the catalogue's metrics, by their Prometheus
 * name. A metric missing here would get the unit `1`; the test keeps the two lists together.
 */
const UNITS: Readonly<Record<string, string>> = {
  requests_total: '{request}',
  reused_requests_total: '{request}',
  stale_failures_total: '{attempt}',
  retries_total: '{retry}',
  retries_succeeded_total: '{retry}',
  retries_denied_total: '{retry}',
  failed_requests_total: '{request}',
  unreplayable_on_new_connection_total: '{request}',
  sockets_opened_total: '{connection}',
  sockets_evicted_total: '{connection}',
  open_sockets: '{connection}',
  idle_limit_seconds: 's',
  learned_idle_limit_seconds: 's',
  requests_per_socket: '{request}',
  learned_request_limit: '{request}',
}

/**
 * The OpenTelemetry name of a catalogue metric: `staleguard.` and the Prometheus name without the suffixes
 * that OpenTelemetry's Prometheus exporter adds back (`_total` for counters, the unit), so that exporting
 * these gives the names `formatPrometheusMetrics` serves.
 */
export function openTelemetryMetricName(prometheusName: string): string {
  return `staleguard.${prometheusName.replace(/_total$|_seconds$/, '')}`
}

/** The semantic-convention metric of a client's connection pool, active and idle connections per server. */
const OPEN_CONNECTIONS = {
  name: 'http.client.open_connections',
  unit: '{connection}',
  description: 'Number of outbound HTTP connections that are currently active or idle on the client.',
} as const

/**
 * The attributes semantic conventions give an HTTP client's server: `server.address` (an IPv6 address
 * without brackets), `server.port` (the scheme's default when the origin has none), `url.scheme`.
 */
function serverAttributes(origin: string): MetricAttributes {
  try {
    const url = new URL(origin)
    const scheme = url.protocol.slice(0, -1)
    const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port)
    return { 'server.address': url.hostname.replace(/^\[(.*)\]$/, '$1'), 'server.port': port, 'url.scheme': scheme }
  } catch {
    // Origins are normalized URLs; should one not parse, it is still told apart by its text.
    return { 'server.address': origin }
  }
}

function readStats(source: StatsSource): StaleguardStats | undefined {
  return typeof source === 'function' ? source() : source.stats()
}

/**
 * Registers staleguard's metrics with OpenTelemetry: the catalogue of {@link STALEGUARD_METRICS} as
 * `staleguard.*` instruments (counters as observable counters, `staleguard.open_sockets` as an observable
 * up-down counter, the rest as observable gauges), and the semantic-convention `http.client.open_connections`
 * with `http.connection.state` `active` or `idle`. Every data point has `server.address`, `server.port` and
 * `url.scheme` of its origin. All are observed from one `stats()` per collection, so nothing runs on the
 * request path. `@opentelemetry/api` stays optional: the meter comes from you.
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api'
 * registerOpenTelemetryMetrics(dispatcher, { meterProvider: metrics.getMeterProvider() })
 * ```
 */
export function registerOpenTelemetryMetrics(
  source: StatsSource,
  options: OpenTelemetryMetricsOptions,
): OpenTelemetryMetricsRegistration {
  const meter = 'meter' in options ? options.meter : options.meterProvider.getMeter(OPENTELEMETRY_METER_NAME)
  const catalogue = STALEGUARD_METRICS.map((metric) => {
    const name = openTelemetryMetricName(metric.name)
    const instrumentOptions = { description: metric.help, unit: UNITS[metric.name] ?? '1' }
    // Open sockets add up across origins (an up-down counter); the limits and ratios do not (gauges).
    const instrument: ObservableInstrument =
      metric.type === 'counter'
        ? meter.createObservableCounter(name, { ...instrumentOptions, valueType: INT })
        : metric.name === 'open_sockets'
          ? meter.createObservableUpDownCounter(name, { ...instrumentOptions, valueType: INT })
          : meter.createObservableGauge(name, instrumentOptions)
    return { metric, name, instrument }
  })
  const openConnections = meter.createObservableUpDownCounter(OPEN_CONNECTIONS.name, {
    description: OPEN_CONNECTIONS.description,
    unit: OPEN_CONNECTIONS.unit,
    valueType: INT,
  })
  // Parsed once per origin; origins gone from the stats are dropped at the next collection.
  let attributesOf = new Map<string, MetricAttributes>()

  const observe = (result: BatchResult): void => {
    const origins: OriginStats[] = Object.values(readStats(source)?.origins ?? {})
    const seen = new Map<string, MetricAttributes>()
    for (const origin of origins) {
      const attributes = attributesOf.get(origin.origin) ?? serverAttributes(origin.origin)
      seen.set(origin.origin, attributes)
      for (const { metric, instrument } of catalogue) {
        const value = metric.value(origin)
        if (value !== null) result.observe(instrument, value, attributes)
      }
      result.observe(openConnections, origin.activeSockets, { ...attributes, 'http.connection.state': 'active' })
      result.observe(openConnections, origin.openSockets - origin.activeSockets, {
        ...attributes,
        'http.connection.state': 'idle',
      })
    }
    attributesOf = seen
  }
  const observables = [...catalogue.map((c) => c.instrument), openConnections]
  meter.addBatchObservableCallback(observe, observables)
  return {
    names: [...catalogue.map((c) => c.name), OPEN_CONNECTIONS.name],
    unregister: () => meter.removeBatchObservableCallback(observe, observables),
  }
}
