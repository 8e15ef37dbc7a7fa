import { describe, expect, it } from 'vitest'
import { keepAliveMaxOf } from './keep-alive-hint.js'

describe('keepAliveMaxOf', () => {
  const raw = (...pairs: string[]) => pairs.map((p) => Buffer.from(p))
  it.each([
    [raw('Content-Type', 'text/plain', 'Keep-Alive', 'timeout=5, max=99'), 99],
    [raw('keep-alive', 'max=0'), 0],
    ['keep-alive|timeout=5'.split('|'), null],
    [raw('Content-Length', '2', 'connection', 'keep-alive'), null],
    [raw('KEEP-ALIVE', 'timeout=5,max=3'), 3],
  ] as [readonly (Buffer | string)[], number | null][])('reads %j as %j', (headers, max) => {
    expect(keepAliveMaxOf(headers)).toBe(max)
  })
})
