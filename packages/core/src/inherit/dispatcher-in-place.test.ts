import {
  Agent,
  EnvHttpProxyAgent,
  MockAgent,
  Pool,
  ProxyAgent,
  RetryAgent,
  getGlobalDispatcher,
  interceptors,
  setGlobalDispatcher,
} from 'undici'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createDispatcher } from '../dispatch/staleguard-dispatcher.js'
import { readDispatcherInPlace } from './dispatcher-in-place.js'

const target = (url: string) => new URL(url)
const SLOT_V1 = Symbol.for('undici.globalDispatcher.1')
const SLOT_V2 = Symbol.for('undici.globalDispatcher.2')
const undici8 = await import('undici8').catch(() => null)
const lookup = () => {}

describe('readDispatcherInPlace', () => {
  afterEach(() => vi.unstubAllEnvs())

  it("reads an Agent's settings in staleguard's words, its connect options as undici builds its connector", async () => {
    const agent = new Agent({
      connect: { lookup, rejectUnauthorized: false },
      connectTimeout: 2_000,
      socketPath: '/tmp/x.sock',
      connections: 2,
      headersTimeout: 1_000,
      keepAliveTimeout: 8_000,
      maxRequestsPerClient: 50,
      clientTtl: 60_000,
      maxResponseSize: 1_024,
      localAddress: '127.0.0.1',
      pipelining: 3,
      maxOrigins: 10,
    })
    const inPlace = readDispatcherInPlace(agent, false)
    expect(inPlace.kind).toBe('readable')
    if (inPlace.kind !== 'readable') return
    expect(inPlace.composed).toBe(false)
    expect(inPlace.base.options).toEqual({
      connect: { lookup, rejectUnauthorized: false, socketPath: '/tmp/x.sock', timeout: 2_000 },
      connections: 2,
      headersTimeout: 1_000,
      keepAliveTimeout: 8_000,
      maxRequestsPerConnection: 50,
      maxConnectionAge: 60_000,
      allowH2: false,
    })
    expect(inPlace.base.clientOptions).toEqual({ maxResponseSize: 1_024, localAddress: '127.0.0.1', pipelining: 3 })
    expect(inPlace.base.maxOrigins).toBe(10)
    expect(inPlace.base.proxy?.routeFor(target('http://a.example'))).toBeNull()
    await agent.close()
  })

  it('keeps a connector function as it is, and sees a composed Agent', async () => {
    const connect = () => {}
    const composed = new Agent({ connect }).compose(interceptors.dns())
    const inPlace = readDispatcherInPlace(composed, false)
    expect(inPlace).toMatchObject({ kind: 'readable', composed: true })
    if (inPlace.kind === 'readable') expect(inPlace.base.connector).toBe(connect)
    await composed.close()
  })

  it("takes an EnvHttpProxyAgent's own proxies and noProxy, and the environment only where it reads it", async () => {
    vi.stubEnv('HTTP_PROXY', 'http://env-proxy.internal:9999')
    vi.stubEnv('NO_PROXY', '')
    const agent = new EnvHttpProxyAgent({
      httpProxy: 'http://user:p%40ss@proxy.internal:3128',
      httpsProxy: 'http://secure-proxy.internal:3129',
      noProxy: 'internal.example',
      connections: 4,
    })
    const inPlace = readDispatcherInPlace(agent, false)
    if (inPlace.kind !== 'readable') throw new Error(`read as ${inPlace.kind}`)
    const plan = inPlace.base.proxy!
    const http = plan.routeFor(target('http://api.example'))
    expect(http?.label).toBe('http://proxy.internal:3128')
    expect(http?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`)
    expect(plan.routeFor(target('https://api.example'))?.label).toBe('http://secure-proxy.internal:3129')
    expect(plan.routeFor(target('https://svc.internal.example'))).toBeNull()
    expect(inPlace.base.options.connections).toBe(4)
    // Asked again, the agent answers again: it is left as it was.
    expect(plan.routeFor(target('http://api.example'))?.label).toBe('http://proxy.internal:3128')
    await agent.close()

    vi.stubEnv('NO_PROXY', 'skip.example')
    const fromEnvironment = new EnvHttpProxyAgent()
    const read = readDispatcherInPlace(fromEnvironment, false)
    if (read.kind !== 'readable') throw new Error(`read as ${read.kind}`)
    expect(read.base.proxy?.routeFor(target('http://api.example'))?.label).toBe('http://env-proxy.internal:9999')
    expect(read.base.proxy?.routeFor(target('http://skip.example'))).toBeNull()
    await fromEnvironment.close()
  })

  it('hands on what a staleguard dispatcher runs with, and stands aside for a MockAgent', async () => {
    const agent = new Agent({ connect: { lookup }, connections: 3 })
    const first = createDispatcher({ proxy: { uri: 'http://proxy.internal:3128', proxyTunnel: false } })
    const inPlace = readDispatcherInPlace(first.compose(), false)
    expect(inPlace.kind).toBe('staleguard')
    if (inPlace.kind === 'staleguard')
      expect(inPlace.base.proxy?.routeFor(target('http://a.example'))?.tunnel).toBe(false)
    const mock = new MockAgent()
    expect(readDispatcherInPlace(mock, false)).toEqual({ kind: 'nothing' })
    expect(readDispatcherInPlace(undefined, false)).toEqual({ kind: 'nothing' })
    await Promise.all([agent.close(), first.close(), mock.close()])
  })

  it('refuses what it cannot read, and says what to pass', async () => {
    const proxyAgent = new ProxyAgent('http://proxy.internal:3128')
    expect(() => readDispatcherInPlace(proxyAgent, false)).toThrow(
      /`proxy` must be given: the global dispatcher in place is an undici ProxyAgent.*proxy: false/,
    )
    expect(readDispatcherInPlace(proxyAgent, true)).toEqual({ kind: 'nothing' })
    const refused = [
      new RetryAgent(new Agent()),
      new Agent({ factory: (origin, options) => new Pool(origin, options) }),
      new Pool('http://a.example'),
      { dispatch: () => true },
    ]
    for (const dispatcher of refused) {
      expect(() => readDispatcherInPlace(dispatcher, false)).toThrow(/`inherit` must be set to false/)
    }
    await proxyAgent.close()
  })

  // npm undici 8 loads on Node ≥ 22.19 only.
  it.skipIf(undici8 === null)(
    "reads through undici 8's wrapper when an app put back what npm undici 7's getGlobalDispatcher gave it",
    async () => {
      const slots = globalThis as unknown as Record<symbol, unknown>
      const before = { v1: slots[SLOT_V1], v2: slots[SLOT_V2] }
      const agent8 = new (undici8 as typeof import('undici8')).Agent({ connect: { lookup }, connections: 2 })
      try {
        ;(undici8 as typeof import('undici8')).setGlobalDispatcher(agent8)
        // What staleguard sees of the two slots (as at an install, or when it loads) is remembered.
        expect(readDispatcherInPlace(slots[SLOT_V2], false).kind).toBe('readable')
        const saved = getGlobalDispatcher() // undici 7 reads `.1`: the wrapper around agent8
        expect(saved).not.toBe(agent8)
        setGlobalDispatcher(new Agent())
        setGlobalDispatcher(saved) // now the wrapper is in `.1` and `.2` both
        expect(slots[SLOT_V2]).toBe(saved)
        const inPlace = readDispatcherInPlace(slots[SLOT_V2], false)
        expect(inPlace.kind).toBe('readable')
        if (inPlace.kind === 'readable') expect(inPlace.base.options.connections).toBe(2)
        expect(readDispatcherInPlace(new undici8!.Agent().compose(), false).kind).toBe('readable')
      } finally {
        slots[SLOT_V1] = before.v1
        slots[SLOT_V2] = before.v2
        await agent8.close()
      }
    },
  )
})
