import { describe, expect, it } from 'vitest'
import { copyOfOptions } from './options-copy.js'

describe('copyOfOptions', () => {
  it('copies own names and symbols (a scope mark survives a second copy), and leaves the original alone', () => {
    const mark = Symbol.for('staleguard.callScope.v1')
    const original = { path: '/items', method: 'GET', headers: { accept: '*/*' }, [mark]: 'scope' }
    const copy = copyOfOptions(original)
    copy.path = '/other'
    expect(copy).not.toBe(original)
    expect(copy[mark]).toBe('scope')
    expect(copyOfOptions(copy)[mark]).toBe('scope')
    expect(copy.headers).toBe(original.headers)
    expect(original.path).toBe('/items')
  })

  it('copies what a spread copies: own enumerable properties only', () => {
    const inherited = Object.create({ body: 'from the prototype' }) as { body?: string; path?: string }
    inherited.path = '/'
    Object.defineProperty(inherited, 'hidden', { value: 1, enumerable: false })
    expect(copyOfOptions(inherited)).toEqual({ ...inherited })
    expect(Object.keys(copyOfOptions(inherited))).toEqual(['path'])
  })
})
