import { describe, expect, it } from 'vitest'
import { parseNoProxy } from './no-proxy.js'

describe('parseNoProxy: the rules of undici EnvHttpProxyAgent', () => {
  it.for<[string, string, boolean]>([
    ['', 'http://api.example/', false],
    ['*', 'https://anything.example/', true],
    ['api.example', 'http://api.example/', true],
    ['api.example', 'http://v2.api.example/', true],
    ['api.example', 'http://notapi.example/', false],
    ['.example', 'http://api.example/', true],
    ['*.example', 'https://api.example/', true],
    ['API.Example', 'http://api.example/', true],
    ['api.example:8080', 'http://api.example:8080/', true],
    ['api.example:8080', 'http://api.example/', false],
    ['api.example:443', 'https://api.example/', true],
    ['localhost, 127.0.0.1', 'http://127.0.0.1:3000/', true],
    ['localhost 10.0.0.1', 'http://10.0.0.2/', false],
    ['[::1]', 'http://[::1]:8080/', true],
  ])('NO_PROXY=%j, %s: direct %s', ([value, url, direct]) => {
    expect(parseNoProxy(value).bypasses(new URL(url))).toBe(direct)
  })
})
