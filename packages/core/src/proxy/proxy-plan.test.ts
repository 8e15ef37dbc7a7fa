import { afterEach, describe, expect, it, vi } from 'vitest'
import { createDispatcher } from '../dispatch/staleguard-dispatcher.js'
import { planProxy } from './proxy-plan.js'

const target = (url: string) => new URL(url)

describe('planProxy', () => {
  afterEach(() => vi.unstubAllEnvs())

  it('goes direct by default when nothing in the process reads a proxy', () => {
    vi.stubEnv('NODE_USE_ENV_PROXY', '')
    expect(planProxy(undefined, null).routeFor(target('http://api.example'))).toBeNull()
  })

  it('follows what the dispatcher in place went through unless told otherwise', () => {
    const inherited = planProxy('http://proxy.internal:3128', null)
    expect(planProxy(undefined, inherited)).toBe(inherited)
    expect(planProxy(false, inherited).routeFor(target('http://a.example'))).toBeNull()
  })

  it('sends a token as Proxy-Authorization and keeps the proxy headers', () => {
    const route = planProxy(
      { uri: 'https://proxy.internal', token: 'Bearer t', headers: { 'x-team': 'a' } },
      null,
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
