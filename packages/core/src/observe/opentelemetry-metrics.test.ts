import { readFileSync } from 'node:fs'
import { type Meter, ValueType } from '@opentelemetry/api'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { sleep, startFaultProxy, startUpstream, until } from '@staleguard/lab'
import { describe, expect, it } from 'vitest'
import { createFetch } from '../api/create-fetch.js'
import { STALEGUARD_METRICS } from './metrics.js'
import { openTelemetryMetricName, registerOpenTelemetryMetrics } from './opentelemetry-metrics.js'

/** The data points of one metric as `[attributes, value]`, from the latest export. */
function pointsOf(metrics: MetricData[], name: string): [Record<string, unknown>, number][] {
  const metric = metrics.find((m) => m.descriptor.name === name)
  return (metric?.dataPoints ?? []).map((p) => [p.attributes, p.value as number])
}

describe('registerOpenTelemetryMetrics', () => {
  it('reports the stats of real requests, a retry among them, through the metrics SDK', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
    const meterProvider = new MeterProvider({ readers: [reader] })
    const upstream = await startUpstream()
    const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 200 })
    const staleguard = createFetch({ learnIdleLimit: false })
    let reads = 0
    const registration = registerOpenTelemetryMetrics(
      () => {
        reads++
        return staleguard.dispatcher.stats()
      },
      { meterProvider },
    )
    const collect = async (): Promise<MetricData[]> => {
      exporter.reset()
      await reader.forceFlush()
      return (
        exporter
          .getMetrics()
          .at(-1)
          ?.scopeMetrics.flatMap((s) => s.metrics) ?? []
      )
    }
    try {
      await (await staleguard(`${proxy.origin}/warm`)).text()
      await sleep(300)
      // The warm socket died behind the proxy: this one fails on it and is retried on a new connection.
      await (await staleguard(`${proxy.origin}/retried`)).text()
      await (await staleguard(`${proxy.origin}/pooled`)).text()
      // One socket busy at collection time, to the upstream directly.
      const inFlight = staleguard(`${upstream.origin}/slow?ms=1500`).then((r) => r.text())
      expect(
        await until(() => staleguard.dispatcher.stats().origins[upstream.origin]?.activeSockets === 1, 1_000),
      ).toBe(true)
      const stats = staleguard.dispatcher.stats()
      const metrics = await collect()
      await inFlight

      expect(stats.retries).toBe(1)
      // Nothing learned yet: the learned limits have no value for any origin, and the SDK exports no metric without data.
      const unlearned = ['staleguard.learned_idle_limit', 'staleguard.learned_request_limit']
      expect(metrics.map((m) => m.descriptor.name).sort()).toEqual(
        registration.names.filter((name) => !unlearned.includes(name)).sort(),
      )
      for (const definition of STALEGUARD_METRICS) {
        const metric = metrics.find((m) => m.descriptor.name === openTelemetryMetricName(definition.name))
        if (metric === undefined) expect(unlearned).toContain(openTelemetryMetricName(definition.name))
        else expect(metric.descriptor.description).toBe(definition.help)
      }
      expect(openTelemetryMetricName('retries_total')).toBe('staleguard.retries')
      expect(openTelemetryMetricName('idle_limit_seconds')).toBe('staleguard.idle_limit')
      expect(metrics.find((m) => m.descriptor.name === 'staleguard.idle_limit')!.descriptor.unit).toBe('s')
      const descriptor = (name: string) => metrics.find((m) => m.descriptor.name === name)!.descriptor
      expect(descriptor('staleguard.retries').valueType).toBe(ValueType.INT)
      expect(descriptor('staleguard.idle_limit').valueType).toBe(ValueType.DOUBLE)
      expect(descriptor('http.client.open_connections')).toMatchObject({
        unit: '{connection}',
        valueType: ValueType.INT,
      })

      const proxyStats = stats.origins[proxy.origin]!
      const upstreamStats = stats.origins[upstream.origin]!
      expect(proxyStats.retries).toBe(1)
      expect(upstreamStats.activeSockets).toBe(1)
      for (const [origin, port] of [
        [proxyStats, proxy.port],
        [upstreamStats, upstream.port],
      ] as const) {
        const server = { 'server.address': '127.0.0.1', 'server.port': port, 'url.scheme': 'http' }
        for (const definition of STALEGUARD_METRICS) {
          const expected = definition.value(origin)
          const points = pointsOf(metrics, openTelemetryMetricName(definition.name)).filter(
            ([attributes]) => attributes['server.port'] === port,
          )
          expect(points, definition.name).toEqual(expected === null ? [] : [[server, expected]])
        }
        const connections = pointsOf(metrics, 'http.client.open_connections').filter(
          ([attributes]) => attributes['server.port'] === port,
        )
        expect(connections).toEqual(
          expect.arrayContaining([
            [{ ...server, 'http.connection.state': 'active' }, origin.activeSockets],
            [{ ...server, 'http.connection.state': 'idle' }, origin.openSockets - origin.activeSockets],
          ]),
        )
        expect(connections).toHaveLength(2)
      }
      expect(pointsOf(metrics, 'staleguard.retries')).toContainEqual([expect.anything(), 1])
      expect(pointsOf(metrics, 'staleguard.reused_requests').map(([, v]) => v)).toContain(proxyStats.reusedRequests)
      expect(exporter.getMetrics().at(-1)?.scopeMetrics[0]?.scope.name).toBe('@staleguard/core')

      // One read of the stats per collection, and none once taken back.
      expect(reads).toBe(1)
      registration.unregister()
      await collect()
      expect(reads).toBe(1)
    } finally {
      await meterProvider.shutdown()
      await staleguard.dispatcher.close()
      await proxy.close()
      await upstream.close()
    }
  })

  it('gives every catalogue metric its OpenTelemetry unit and instrument kind', () => {
    const created: { kind: string; name: string; unit: string | undefined }[] = []
    const record =
      (kind: string) =>
      (name: string, options?: { unit?: string }): object => {
        created.push({ kind, name, unit: options?.unit })
        return {}
      }
    const meter = {
      createObservableCounter: record('counter'),
      createObservableUpDownCounter: record('up-down counter'),
      createObservableGauge: record('gauge'),
      addBatchObservableCallback: () => {},
      removeBatchObservableCallback: () => {},
    } as unknown as Meter
    const { names } = registerOpenTelemetryMetrics(() => undefined, { meter })
    expect(created.map((c) => c.name)).toEqual(names)
    // A metric missing from the unit table would get `1`.
    expect(created.filter((c) => c.unit === undefined || c.unit === '1')).toEqual([])
    expect(created.filter((c) => c.kind === 'counter')).toHaveLength(
      STALEGUARD_METRICS.filter((m) => m.type === 'counter').length,
    )
    expect(created.filter((c) => c.kind === 'up-down counter').map((c) => c.name)).toEqual([
      'staleguard.open_sockets',
      'http.client.open_connections',
    ])
    expect(created.find((c) => c.name === 'staleguard.learned_idle_limit')).toEqual({
      kind: 'gauge',
      name: 'staleguard.learned_idle_limit',
      unit: 's',
    })
  })

  it('takes a meter of the caller’s, and names @opentelemetry/api nowhere, not even for types', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
    const meterProvider = new MeterProvider({ readers: [reader] })
    const meter = meterProvider.getMeter('my-app')
    const registration = registerOpenTelemetryMetrics(() => undefined, { meter })
    await reader.forceFlush()
    expect(
      exporter
        .getMetrics()
        .at(-1)
        ?.scopeMetrics.flatMap((s) => s.metrics.flatMap((m): unknown[] => m.dataPoints)) ?? [],
    ).toEqual([])
    registration.unregister()
    await meterProvider.shutdown()
    // Core loads, and its published types check, without the optional peer: the module does not name it
    // (its meter types are structural), not even for types.
    const source = readFileSync(new URL('./opentelemetry-metrics.ts', import.meta.url), 'utf8')
    expect(source).not.toMatch(/^import[^\n]*'@opentelemetry\/api'/m)
  })
})
