import { describe, expect, it } from 'vitest'
import { flatHeadersIfAbsent, readHeader, withHeadersIfAbsent } from './request-headers.js'

describe('request headers in every shape undici accepts', () => {
  const additions = [
    ['x-request-id', 'abc'],
    ['traceparent', 't1'],
  ] as const

  it('reads a header case-insensitively from objects, flat arrays and pair iterables', () => {
    expect(readHeader({ 'Idempotency-Key': 'k' }, 'idempotency-key')).toBe('k')
    expect(readHeader(['Content-Length', '5', 'accept', '*/*'], 'content-length')).toBe('5')
    expect(readHeader(new Map([['X-A', 'b']]), 'x-a')).toBe('b')
    expect(readHeader({ 'x-list': ['a', 'b'] }, 'x-list')).toBe('a, b')
    expect(readHeader(undefined, 'x')).toBeUndefined()
    // undici sends only own names with a value: an inherited key or an undefined one is no header.
    expect(
      readHeader(Object.create({ 'idempotency-key': 'k' }) as Record<string, string>, 'idempotency-key'),
    ).toBeUndefined()
    expect(readHeader({ 'idempotency-key': undefined, 'Idempotency-Key': 'k' }, 'idempotency-key')).toBe('k')
  })

  it('adds only what the caller did not set, whatever its case, without touching the input', () => {
    const mine = { 'X-Request-Id': 'mine', accept: '*/*' }
    const merged = withHeadersIfAbsent(mine, additions) as Record<string, string>
    expect(merged).toEqual({ 'X-Request-Id': 'mine', accept: '*/*', traceparent: 't1' })
    expect(mine).toEqual({ 'X-Request-Id': 'mine', accept: '*/*' })
    const untouched = { 'x-request-id': 'a', TraceParent: 'b' }
    expect(withHeadersIfAbsent(untouched, additions)).toBe(untouched)
    expect(withHeadersIfAbsent(['accept', '*/*'], additions)).toEqual([
      'accept',
      '*/*',
      'x-request-id',
      'abc',
      'traceparent',
      't1',
    ])
    expect(withHeadersIfAbsent(new Map([['traceparent', 'x']]), additions)).toEqual([
      'traceparent',
      'x',
      'x-request-id',
      'abc',
    ])
    expect(withHeadersIfAbsent(null, additions)).toEqual({ 'x-request-id': 'abc', traceparent: 't1' })
    // undici sends no header for an undefined value or an inherited name: those count as absent, as in the flat list.
    const blank = Object.assign(Object.create({ traceparent: 'inherited' }) as Record<string, string | undefined>, {
      'X-Request-Id': undefined,
    })
    expect(withHeadersIfAbsent(blank, additions)).toEqual({
      'X-Request-Id': undefined,
      'x-request-id': 'abc',
      traceparent: 't1',
    })
    expect(flatHeadersIfAbsent(blank, additions)).toEqual(['x-request-id', 'abc', 'traceparent', 't1'])
  })
  it('gives a staleguard dispatcher the same headers as one flat list, whatever shape came in', () => {
    const mine = { 'X-Request-Id': 'mine', accept: '*/*', skipped: undefined }
    expect(flatHeadersIfAbsent(mine, additions)).toEqual(['X-Request-Id', 'mine', 'accept', '*/*', 'traceparent', 't1'])
    expect(mine).toEqual({ 'X-Request-Id': 'mine', accept: '*/*', skipped: undefined })
    expect(flatHeadersIfAbsent({ 'x-list': ['a', 'b'] }, additions)).toEqual([
      'x-list',
      ['a', 'b'],
      'x-request-id',
      'abc',
      'traceparent',
      't1',
    ])
    expect(flatHeadersIfAbsent(Object.create({ inherited: 'no' }) as Record<string, string>, additions)).toEqual([
      'x-request-id',
      'abc',
      'traceparent',
      't1',
    ])
    expect(flatHeadersIfAbsent(['accept', '*/*'], additions)).toEqual([
      'accept',
      '*/*',
      'x-request-id',
      'abc',
      'traceparent',
      't1',
    ])
    expect(flatHeadersIfAbsent(new Map([['traceparent', 'x']]), additions)).toEqual([
      'traceparent',
      'x',
      'x-request-id',
      'abc',
    ])
    expect(
      flatHeadersIfAbsent(
        new Map([
          ['x-request-id', 'x'],
          ['traceparent', 'y'],
        ]),
        additions,
      ),
    ).toEqual(['x-request-id', 'x', 'traceparent', 'y'])
    expect(flatHeadersIfAbsent(null, additions)).toEqual(['x-request-id', 'abc', 'traceparent', 't1'])
  })
})
