import { describe, expect, it } from 'vitest'
import { createDispatcher } from '../dispatch/staleguard-dispatcher.js'
import { idleLimitBelow } from './intermediaries.js'
import { StaleguardOptionError } from './options.js'
import { resolveOriginOptions, validateOptions } from './resolve-options.js'

describe('options', () => {
  it('defaults to a 4 s idle limit with the ceiling at the same value', () => {
    const resolved = resolveOriginOptions({}, undefined)
    expect(resolved.keepAliveTimeout).toBe(4_000)
    expect(resolved.keepAliveMaxTimeout).toBe(4_000)
    expect(resolved.retry?.maxRetries).toBe(1)
    expect([...(resolved.retry?.methods ?? [])]).toEqual(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'QUERY'])
    expect(resolved.retry?.budget).toEqual({ ratio: 0.2, minRetries: 10, windowMs: 10_000 })
  })

  it('derives the idle limit safely below the upstream idle timeout', () => {
    expect(resolveOriginOptions({ upstreamIdleTimeout: 60_000 }, undefined).keepAliveTimeout).toBe(54_000)
    expect(resolveOriginOptions({ upstreamIdleTimeout: 5_000 }, undefined).keepAliveTimeout).toBe(4_000)
    expect(resolveOriginOptions({ upstreamIdleTimeout: 700 }, undefined).keepAliveTimeout).toBe(350)
    for (const upstream of [150, 700, 2_000, 5_000, 60_000, 350_000]) {
      const limit = idleLimitBelow(upstream)
      expect(limit).toBeLessThan(upstream)
      expect(limit).toBeGreaterThanOrEqual(upstream / 2)
    }
  })

  it('takes the shortest of several upstream presets and an explicit upstream timeout', () => {
    expect(resolveOriginOptions({ upstream: ['aws-nlb', 'aws-alb'] }, undefined).upstreamIdleTimeout).toBe(60_000)
    expect(resolveOriginOptions({ upstream: 'aws-alb', upstreamIdleTimeout: 30_000 }, undefined).keepAliveTimeout).toBe(
      27_000,
    )
  })

  it('applies per-origin overrides on top of the global options', () => {
    const options = {
      keepAliveTimeout: 2_000,
      retry: { maxRetries: 2 },
      origins: { 'https://api.example.com/': { keepAliveTimeout: 1_000, retry: { budget: false as const } } },
    }
    const api = resolveOriginOptions(options, 'https://api.example.com')
    expect(api.keepAliveTimeout).toBe(1_000)
    expect(api.retry?.maxRetries).toBe(2)
    expect(api.retry?.budget).toBeNull()
    const other = resolveOriginOptions(options, 'https://other.example.com')
    expect(other.keepAliveTimeout).toBe(2_000)
    expect(other.retry?.budget).not.toBeNull()
  })

  it('protects requests that cannot be replayed unless an origin (or every origin) says not to', () => {
    const options = { origins: { 'https://bulk.example': { protectUnreplayable: false } } }
    expect(resolveOriginOptions(options, 'https://api.example').protectUnreplayable).toBe(true)
    expect(resolveOriginOptions(options, 'https://bulk.example').protectUnreplayable).toBe(false)
    expect(resolveOriginOptions({ protectUnreplayable: false }, 'https://api.example').protectUnreplayable).toBe(false)
  })

  it.each([
    [{ keepAliveTimeout: -1 }, 'keepAliveTimeout', 'from 1 to 3600000'],
    [{ keepAliveTimeout: 1.5 }, 'keepAliveTimeout', 'integer'],
    [{ keepAliveTimeout: 2_000, keepAliveMaxTimeout: 1_000 }, 'keepAliveMaxTimeout', 'from 2000'],
    [
      { upstreamIdleTimeout: 5_000, keepAliveTimeout: 5_000 },
      'keepAliveTimeout',
      'below the upstream idle timeout of 5000 ms',
    ],
    [{ upstreamIdleTimeout: 10 }, 'upstreamIdleTimeout', 'from 100'],
    [{ retry: { maxRetries: 4 } }, 'retry.maxRetries', 'from 1 to 3'],
    [{ retry: { budget: { ratio: 2 } } }, 'retry.budget.ratio', 'from 0 to 1'],
    [{ connections: 0 }, 'connections', 'from 1 to 65535'],
    [{ protectUnreplayable: 'yes' }, 'protectUnreplayable', 'true or false'],
    [
      { origins: { 'https://a.example': { protectUnreplayable: 0 } } },
      "origins['https://a.example'].protectUnreplayable",
      'true or false',
    ],
    [{ upstream: 'aws-elb' }, 'upstream', 'aws-alb'],
    [{ keepaliveTimeout: 1_000 }, 'keepaliveTimeout', 'is not a staleguard option'],
    [{ keepAliveTimout: 1_000 }, 'keepAliveTimout', 'did you mean `keepAliveTimeout`?'],
    [{ idleTimeout: 1_000 }, 'idleTimeout', 'did you mean `upstreamIdleTimeout`?'],
    [{ retry: { maxRetry: 2 } }, 'retry.maxRetry', 'did you mean `maxRetries`?'],
    [{ origins: { 'not a url': {} } }, 'origins', 'absolute URLs'],
    [
      { origins: { 'https://a.example': { keepAliveTimeout: 0 } } },
      "origins['https://a.example'].keepAliveTimeout",
      'from 1',
    ],
  ])('rejects %j at construction, naming %s and the accepted range', (options, option, range) => {
    let thrown: unknown
    try {
      createDispatcher(options as never)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(StaleguardOptionError)
    expect((thrown as StaleguardOptionError).option).toBe(option)
    expect((thrown as Error).message).toContain(`\`${option}\``)
    expect((thrown as Error).message).toContain(range)
  })

  it('lists every known key for an unknown one (proxy included), and the adapter keys only through an adapter', () => {
    let thrown: unknown
    try {
      createDispatcher({ fooBar: 1 } as never)
    } catch (error) {
      thrown = error
    }
    expect((thrown as Error).message).toMatch(
      /^staleguard: option `fooBar` is not a staleguard option\. Known: keepAliveTimeout, keepAliveMaxTimeout, .*\bproxy\b.* \(got 1\)$/,
    )
    expect((thrown as Error).message).not.toContain('installGlobal')
    expect(() => validateOptions({ fooBar: 1 } as never, ['installGlobal'])).toThrow(
      /\bproxy\b.*, installGlobal \(got 1\)$/,
    )
    // The adapter's keys are allowed beside core's there, and nowhere else.
    expect(() =>
      validateOptions({ installGlobal: false, keepAliveTimeout: 1_000 } as never, ['installGlobal']),
    ).not.toThrow()
    expect(() => createDispatcher({ installGlobal: false } as never)).toThrow(
      '`installGlobal` is not a staleguard option',
    )
  })
})
