import { describe, expect, it } from 'vitest'
import { StaleguardOptionError } from '../config/options.js'
import { createAppInstallation } from './app-installation.js'
import { resolveAppOptions } from './app-options.js'

function optionError(options: unknown): StaleguardOptionError {
  try {
    resolveAppOptions(options)
  } catch (error) {
    expect(error).toBeInstanceOf(StaleguardOptionError)
    return error as StaleguardOptionError
  }
  throw new Error(`accepted ${JSON.stringify(options)}`)
}

describe("an adapter's options, checked in core", () => {
  it('answers a preset name passed where the options go with the two objects it could mean', () => {
    const error = optionError('aws-alb')
    expect(error.option).toBe('options')
    expect(error.message).toBe(
      "staleguard: option `options` must be an object, not a preset name: pass `{ behind: 'aws-alb' }` for the " +
        "load balancer in front of this app, or `{ upstream: 'aws-alb' }` for one in front of the services it calls " +
        '(got "aws-alb")',
    )
  })

  it.each([null, 42, ['aws-alb'], 'not-a-preset'])('answers %j with the shape options take', (options) => {
    const error = optionError(options)
    expect(error.option).toBe('options')
    expect(error.message).toMatch(
      /^staleguard: option `options` must be an object such as `\{ upstream: 'aws-alb', behind: 'aws-alb' \}`, or left out for the defaults \(presets: node, aws-alb, .*\) \(got .+\)$/,
    )
  })

  it.each([
    [{ behind: { idleTimeout: -1 } }, 'behind.idleTimeout', 'must be an integer from 100 to 86400000 ms'],
    [{ behind: { idleTimout: 60_000 } }, 'behind.idleTimout', 'did you mean `idleTimeout`?'],
    [{ behind: 'alb' }, 'behind', 'must be one of node, aws-alb'],
    [{ behind: 60_000 }, 'behind', 'must be a preset name'],
    [{ server: 5 }, 'server', 'must be an object'],
    [{ server: { keepAliveTimeout: 0 } }, 'server.keepAliveTimeout', 'must be an integer from 1 to 86400000 ms'],
    [{ server: { keepAlive: 5 } }, 'server.keepAlive', 'did you mean `keepAliveTimeout`?'],
    [{ behind: 'aws-alb', server: { keepAliveTimeout: 1_000 } }, 'server.keepAliveTimeout', 'idle timeout of 60000'],
    [{ server: { headersTimeout: '1s' } }, 'server.headersTimeout', 'above the server'],
    [{ installGlobal: 'no' }, 'installGlobal', 'must be true or false'],
    [{ timeout: 0 }, 'timeout', 'must be an integer from 1 to 3600000 ms'],
    [{ timeout: '5s' }, 'timeout', 'must be an integer from 1 to 3600000 ms'],
    [{ requestIdHeader: 'x request id' }, 'requestIdHeader', 'must be a header name such as x-request-id, or false'],
    [{ traceHeaders: 'traceparent' }, 'traceHeaders', 'must be an array of header names'],
    [{ traceHeaders: ['Cookie'] }, 'traceHeaders', 'credentials are never forwarded'],
    [{ dispatcher: null }, 'dispatcher', 'must be an undici Dispatcher'],
    [{ dispatcher: {} }, 'dispatcher', 'must be an undici Dispatcher'],
    [
      { dispatcher: { dispatch() {} }, keepAliveTimeout: 5 },
      'keepAliveTimeout',
      'cannot be combined with `dispatcher`',
    ],
    [{ instalGlobal: false }, 'instalGlobal', 'did you mean `installGlobal`?'],
    [{ dispatcher: { dispatch() {} }, keepAliveTimout: 5 }, 'keepAliveTimout', 'did you mean `keepAliveTimeout`?'],
    [{ idleTimeout: 5_000 }, 'idleTimeout', 'did you mean `upstreamIdleTimeout` or `behind: { idleTimeout }`?'],
    [{ retry: { maxRetries: 9 } }, 'retry.maxRetries', 'from 1 to 3'],
  ])('rejects %j, naming %s', (options, option, expectation) => {
    const error = optionError(options)
    expect(error.option).toBe(option)
    expect(error.message).toContain(`\`${option}\``)
    expect(error.message).toContain(expectation)
  })

  it("lists the adapter's options beside core's for an unknown key", () => {
    const { message } = optionError({ keepAliveTimout: 1_000 })
    expect(message).toMatch(
      /^staleguard: option `keepAliveTimout` is not a staleguard option; did you mean `keepAliveTimeout`\? Known: keepAliveTimeout, /,
    )
    for (const key of [
      'proxy',
      'installGlobal',
      'dispatcher',
      'requestIdHeader',
      'traceHeaders',
      'timeout',
      'server',
      'behind',
    ])
      expect(message).toContain(key)
  })

  it('throws from createAppInstallation before building or installing anything', () => {
    expect(() => createAppInstallation('aws-alb' as never)).toThrow(StaleguardOptionError)
    expect(() => createAppInstallation(null as never)).toThrow('option `options` must be an object')
  })

  it('accepts what the README shows, and no options at all', () => {
    expect(resolveAppOptions(undefined).installGlobal).toBe(true)
    const resolved = resolveAppOptions({ upstream: 'aws-alb', behind: { idleTimeout: 60_000 }, timeout: 5_000 })
    expect(resolved.serverTimeouts).toEqual({ keepAliveTimeout: 66_000, headersTimeout: 67_000 })
    expect(resolved.core).toEqual({ upstream: 'aws-alb' })
    expect(resolved.scope.timeout).toBe(5_000)
  })
})
