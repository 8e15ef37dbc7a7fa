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
    [raw('Keep-Alive', 'timeout=5'), null],
    [raw('Keep-Alive', 'Max = 12 ; timeout=5'), 12],
    [raw('Keep-Alive', 'timeout=5;\tmax=7'), 7],
    [raw('Keep-Alive', 'xmax=4, max=9'), 9],
    [raw('Keep-Alive', 'max=, max=8'), 8],
    [raw('Keep-Alive', 'maxx=4'), null],
    [raw('Keep-Alive', 'max'), null],
    [raw('Keep-Aliv_', 'max=3'), null],
    [['Keep-Alive', 'timeout=2, max=1000'], 1000],
  ] as [readonly (Buffer | string)[], number | null][])('reads %j as %j', (headers, max) => {
    expect(keepAliveMaxOf(headers)).toBe(max)
  })

  it('agrees with the pattern it replaces on generated values', () => {
    const pattern = /(?:^|[\s,;])max\s*=\s*(\d+)/i
    const parts = ['max', 'MAX', 'timeout', '=', ' ', '\t', ',', ';', '5', '42', 'x', 'mAx']
    let seed = 7
    const next = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed
    }
    for (let n = 0; n < 2_000; n++) {
      let value = ''
      for (let k = next() % 8; k >= 0; k--) value += parts[next() % parts.length]
      const match = pattern.exec(value)
      expect(keepAliveMaxOf(raw('Keep-Alive', value)), value).toBe(match ? Number(match[1]) : null)
    }
  })
})
