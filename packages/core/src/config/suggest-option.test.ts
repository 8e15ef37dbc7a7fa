import { describe, expect, it } from 'vitest'
import { editDistance, suggestOption } from './suggest-option.js'

const CORE = ['keepAliveTimeout', 'keepAliveMaxTimeout', 'upstreamIdleTimeout', 'upstream', 'connections', 'retry']
const ADAPTER = [...CORE, 'installGlobal', 'timeout', 'behind', 'dispatcher']

describe('suggestOption', () => {
  it.each([
    ['keepAliveTimout', CORE, '`keepAliveTimeout`'],
    ['keepaliveTimeout', CORE, '`keepAliveTimeout`'],
    ['upstreams', CORE, '`upstream`'],
    ['conections', CORE, '`connections`'],
    ['instalGlobal', ADAPTER, '`installGlobal`'],
    ['idleTimeout', CORE, '`upstreamIdleTimeout`'],
    ['idleTimeout', ADAPTER, '`upstreamIdleTimeout` or `behind: { idleTimeout }`'],
    ['maxRetries', CORE, '`retry: { maxRetries }`'],
    ['maxRetry', ['maxRetries', 'methods', 'budget'], '`maxRetries`'],
    ['maxSockets', CORE, '`connections`'],
    ['agent', ADAPTER, '`dispatcher`'],
  ])('suggests for %s among the known keys', (key, known, suggestion) => {
    expect(suggestOption(key, known)).toBe(suggestion)
  })

  it('offers nothing when no key is close, or an alias points at an option not known there', () => {
    expect(suggestOption('fooBar', ADAPTER)).toBeUndefined()
    expect(suggestOption('agent', CORE)).toBeUndefined()
    expect(suggestOption('xy', ['ab'])).toBeUndefined()
  })

  it('counts typos, swaps included, and gives up above the limit', () => {
    expect(editDistance('timeout', 'timeout', 2)).toBe(0)
    expect(editDistance('timeuot', 'timeout', 2)).toBe(1)
    expect(editDistance('timout', 'timeout', 2)).toBe(1)
    expect(editDistance('abcdef', 'uvwxyz', 2)).toBe(3)
    expect(editDistance('a', 'abcdef', 2)).toBe(3)
  })
})
