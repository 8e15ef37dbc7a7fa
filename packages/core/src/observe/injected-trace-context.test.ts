import { propagation, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { type ReceivedRequest, incomingExchange, sleep, startFaultProxy, startUpstream } from '@staleguard/lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAppInstallation } from '../scope/app-installation.js'

const INCOMING = {
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: 'congo=t61rcWkgMzE',
}

/** Every value of `name` as it came on the wire: IncomingHttpHeaders would join repeated ones. */
function rawValues(request: ReceivedRequest | undefined, name: string): string[] {
  const raw = request?.rawHeaders ?? []
  const values: string[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) values.push(raw[i + 1]!)
  return values
}

function traceparentOf(span: ReadableSpan): string {
  const { traceId, spanId, traceFlags } = span.spanContext()
  return `00-${traceId}-${spanId}-0${traceFlags}`
}

describe('trace headers forwarded by a request scope, beside @opentelemetry/instrumentation-undici', () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  // Constructed enabled (with `enabled: false` it would ignore every request) and switched off until needed.
  const instrumentation = new UndiciInstrumentation()
  instrumentation.disable()
  let upstream: Awaited<ReturnType<typeof startUpstream>>

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider)
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
    instrumentation.setTracerProvider(provider)
    upstream = await startUpstream()
  })
  afterAll(async () => {
    instrumentation.disable()
    await upstream.close()
  })

  /** Sends `path` through a request scope whose incoming request carries INCOMING, by fetch and the fast path. */
  async function throughScope(path: string): Promise<void> {
    const origin = upstream.origin
    const installation = createAppInstallation({ installGlobal: false })
    const { res, close } = await incomingExchange()
    try {
      const scope = installation.openScope(res, { headers: { ...INCOMING } })
      const response = await scope.fetch(`${origin}${path}/fetch`)
      await response.text()
      expect(response.status).toBe(200)
      const fast = await scope.request(`${origin}${path}/request`)
      await fast.body.text()
      expect(fast.statusCode).toBe(200)
    } finally {
      res.end()
      close()
      await installation.close()
    }
  }

  const arrived = (path: string) => upstream.received.filter((r) => r.path === path)

  it('forwards the incoming trace headers once each, as they came, without an instrumentation', async () => {
    await throughScope('/plain')
    for (const request of [...arrived('/plain/fetch'), ...arrived('/plain/request')]) {
      expect(rawValues(request, 'traceparent')).toEqual([INCOMING.traceparent])
      expect(rawValues(request, 'tracestate')).toEqual([INCOMING.tracestate])
    }
    expect(arrived('/plain/fetch')).toHaveLength(1)
    expect(arrived('/plain/request')).toHaveLength(1)
  })

  it.each([
    // Nothing listened before: staleguard subscribes on the scope's first call, after the instrumentation.
    ['subscribed before staleguard', 'before'],
    // Enabled again, the instrumentation subscribes anew, now after staleguard.
    ['subscribed after staleguard', 'after'],
  ])('sends exactly one traceparent, the client span’s, with the instrumentation %s', async (_, when) => {
    instrumentation.enable()
    exporter.reset()
    try {
      await throughScope(`/${when}`)
    } finally {
      instrumentation.disable()
    }
    await provider.forceFlush()
    for (const kind of ['fetch', 'request']) {
      const path = `/${when}/${kind}`
      const spans = exporter.getFinishedSpans().filter((s) => String(s.attributes['url.full']).endsWith(path))
      expect(spans).toHaveLength(1)
      const [request] = arrived(path)
      expect(rawValues(request, 'traceparent')).toEqual([traceparentOf(spans[0]!)])
      // The incoming tracestate belongs to the incoming traceparent, which was not sent: it goes too.
      expect(rawValues(request, 'tracestate')).toEqual([])
    }
  })

  it('gives each attempt of a retried request its own span’s traceparent, once', async () => {
    const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 200 })
    const installation = createAppInstallation({ installGlobal: false, learnIdleLimit: false })
    const { res, close } = await incomingExchange()
    instrumentation.enable()
    exporter.reset()
    try {
      const scope = installation.openScope(res, { headers: { ...INCOMING } })
      await (await scope.fetch(`${proxy.origin}/retry/warm`)).text()
      await sleep(300)
      const response = await scope.fetch(`${proxy.origin}/retry/retried`)
      await response.text()
      expect(response.status).toBe(200)
      expect(installation.stats()?.retries).toBe(1)
    } finally {
      instrumentation.disable()
      res.end()
      close()
      await installation.close()
      await proxy.close()
    }
    await provider.forceFlush()
    const spans = exporter.getFinishedSpans().filter((s) => String(s.attributes['url.full']).endsWith('/retry/retried'))
    expect(spans).toHaveLength(2)
    const succeeded = spans.find((s) => s.attributes['http.response.status_code'] === 200)!
    const [request] = arrived('/retry/retried')
    expect(arrived('/retry/retried')).toHaveLength(1)
    expect(rawValues(request, 'traceparent')).toEqual([traceparentOf(succeeded)])
  })

  it('forwards them as before once the instrumentation is disabled again', async () => {
    await throughScope('/disabled')
    for (const request of [...arrived('/disabled/fetch'), ...arrived('/disabled/request')]) {
      expect(rawValues(request, 'traceparent')).toEqual([INCOMING.traceparent])
      expect(rawValues(request, 'tracestate')).toEqual([INCOMING.tracestate])
    }
  })
})
