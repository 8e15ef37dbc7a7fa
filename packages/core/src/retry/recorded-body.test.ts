import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { RecordedBody } from './recorded-body.js'

async function collect(iterable: AsyncIterable<unknown>, limit = Number.POSITIVE_INFINITY): Promise<string> {
  let text = ''
  let n = 0
  for await (const chunk of iterable) {
    text += String(chunk)
    if (++n >= limit) break
  }
  return text
}

describe('RecordedBody', () => {
  it('replays exactly the bytes of an attempt that finished', async () => {
    const body = new RecordedBody(
      (async function* () {
        yield 'a'
        yield 'b'
        yield 'c'
      })(),
    )
    expect(await collect(body.attempt())).toBe('abc')
    expect(await collect(body.attempt())).toBe('abc')
  })

  it('lets a retry continue where an abandoned attempt stopped, without closing the source', async () => {
    let closed = false
    const source = (async function* () {
      try {
        yield 'a'
        yield 'b'
        yield 'c'
      } finally {
        closed = true
      }
    })()
    const body = new RecordedBody(source)
    expect(await collect(body.attempt(), 1)).toBe('a')
    expect(closed).toBe(false)
    expect(await collect(body.attempt())).toBe('abc')
  })

  it('never splits a chunk between two attempts reading at once', async () => {
    const body = new RecordedBody(
      (async function* () {
        for (const c of 'abcdef') {
          await sleep(1)
          yield c
        }
      })(),
    )
    const [first, second] = await Promise.all([collect(body.attempt()), collect(body.attempt())])
    expect(first).toBe('abcdef')
    expect(second).toBe('abcdef')
  })

  it('drops the chunks and closes the source on release', async () => {
    let closed = false
    const body = new RecordedBody(
      (async function* () {
        try {
          yield 'a'
          yield 'b'
        } finally {
          closed = true
        }
      })(),
    )
    await collect(body.attempt(), 1)
    body.release()
    await new Promise((r) => setImmediate(r))
    expect(closed).toBe(true)
    expect(await collect(body.attempt())).toBe('')
  })
})
