import { EnvHttpProxyAgent, ProxyAgent } from 'undici'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createDispatcher } from '../dispatch/staleguard-dispatcher.js'
import { planProxy } from './proxy-plan.js'

const target = (url: string) => new URL(url)

describe('planProxy', () => {
  afterEach(() => vi.unstubAllEnvs())

  it('goes direct by default when nothing in the process reads a proxy', () => {
    vi.stubEnv('NODE_USE_ENV_PROXY', '')
    expect(planProxy(undefined, undefined).routeFor(target('http://api.example'))).toBeNull()
  })

  it('takes the environment over from an EnvHttpProxyAgent in place, with NO_PROXY', async () => {
    vi.stubEnv('HTTP_PROXY', 'http://user:p%40ss@proxy.internal:3128')
    vi.stubEnv('HTTPS_PROXY', 'http://secure-proxy.internal:3129')
    vi.stubEnv('NO_PROXY', 'internal.example')
    const inPlace = new EnvHttpProxyAgent()
    const plan = planProxy(undefined, inPlace)
    expect(plan.option).toBe('env')
    const http = plan.routeFor(target('http://api.example'))
    expect(http?.label).toBe('http://proxy.internal:3128')
    expect(http?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`)
    expect(plan.routeFor(target('https://api.example'))?.label).toBe('http://secure-proxy.internal:3129')
    expect(plan.routeFor(target('https://svc.internal.example'))).toBeNull()
    await inPlace.close()
  })

  it('refuses to go direct past a ProxyAgent whose settings it cannot read, and says what to pass', async () => {
    const inPlace = new ProxyAgent('http://proxy.internal:3128')
    expect(() => planProxy(undefined, inPlace)).toThrow(
      /global dispatcher in place is an undici ProxyAgent.*proxy: false/,
    )
    expect(planProxy('http://proxy.internal:3128', inPlace).routeFor(target('http://a.example'))?.label).toBe(
      'http://proxy.internal:3128',
    )
    expect(planProxy(false, inPlace).routeFor(target('http://a.example'))).toBeNull()
    await inPlace.close()
  })

  it('inherits what a staleguard dispatcher in place goes through', async () => {
    const first = createDispatcher({ proxy: { uri: 'http://proxy.internal:3128', proxyTunnel: false } })
    const plan = planProxy(undefined, first)
    expect(plan.routeFor(target('http://a.example'))?.tunnel).toBe(false)
    const composed = createDispatcher({ proxy: 'http://other.internal:8080' }).compose()
    expect(planProxy(undefined, composed).routeFor(target('http://a.example'))?.label).toBe(
      'http://other.internal:8080',
    )
    await first.close()
    await composed.close()
  })

  it('sends a token as Proxy-Authorization and keeps the proxy headers', () => {
    const route = planProxy(
      { uri: 'https://proxy.internal', token: 'Bearer t', headers: { 'x-team': 'a' } },
      undefined,
    ).routeFor(target('https://api.example'))
    expect(route?.headers).toEqual({ 'x-team': 'a', 'proxy-authorization': 'Bearer t' })
    expect(route?.tunnel).toBe(true)
  })

  it.for<[unknown, RegExp]>([
    ['not a url', /`proxy` must be a proxy URL/],
    ['socks5://127.0.0.1:1080', /SOCKS is not supported/],
    [{ uri: 'http://p', tunnel: false }, /`proxy.tunnel` is not a proxy setting; known: uri, token/],
    [{ token: 'x' }, /`proxy.uri` must be the proxy URL/],
    [{ uri: 'http://p', proxyTunnel: 'no' }, /`proxy.proxyTunnel` must be true or false/],
    [42, /`proxy` must be 'env', a proxy URL/],
  ])('rejects %j in a sentence', ([option, message]) => {
    expect(() => createDispatcher({ proxy: option as never })).toThrow(message)
  })
})
