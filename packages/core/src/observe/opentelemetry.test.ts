import { SpanStatusCode, propagation, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { sleep, startFaultProxy, startUpstream } from '@staleguard/lab'
import { describe, expect, it } from 'vitest'
import { createFetch } from '../api/create-fetch.js'

describe('with @opentelemetry/instrumentation-undici', () => {
  it('shows each attempt as its own HTTP client span, and staleguard adds no tracer of its own', async () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    trace.setGlobalTracerProvider(provider)
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
    const instrumentation = new UndiciInstrumentation()
    instrumentation.setTracerProvider(provider)
    instrumentation.enable()

    const upstream = await startUpstream()
    const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 200 })
    const staleguard = createFetch({ learnIdleLimit: false })
    try {
      await staleguard(`${proxy.origin}/otel/warm`).then((r) => r.text())
      await sleep(300)
      const response = await staleguard(`${proxy.origin}/otel/retried`)
      expect(response.status).toBe(200)
      await response.text()
    } finally {
      instrumentation.disable()
      await staleguard.dispatcher.close()
      await proxy.close()
      await upstream.close()
    }
    await provider.forceFlush()
    const spans = exporter.getFinishedSpans()
    const attempts = spans.filter((s) => String(s.attributes['url.full']).endsWith('/otel/retried'))
    expect(attempts).toHaveLength(2)
    const [failed, succeeded] = [...attempts].sort(
      (a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1],
    )
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR)
    expect(succeeded!.status.code).not.toBe(SpanStatusCode.ERROR)
    expect(succeeded!.attributes['http.response.status_code']).toBe(200)
    expect(new Set(spans.map((s) => s.instrumentationScope.name))).toEqual(
      new Set(['@opentelemetry/instrumentation-undici']),
    )
    // The upstream saw the retried request once (the first attempt never got past the hop), with trace context.
    const arrived = upstream.received.filter((r) => r.path === '/otel/retried')
    expect(arrived).toHaveLength(1)
    expect(arrived[0]!.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
  })
})
