import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { fetch as undiciFetch } from 'undici'
import { describe, expect, it } from 'vitest'
import {
  type BodySource,
  classifyBody,
  fetchBodySourceOf,
  hasContentLengthFromFetch,
  requestBodySourceOf,
} from './request-safety.js'

const MAX = 1_000_000
const bytes = (text: string) => new TextEncoder().encode(text)
const webStream = () =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes('hello'))
      controller.close()
    },
  })
async function* generator() {
  yield bytes('hello')
}
const form = () => {
  const data = new FormData()
  data.append('a', 'b')
  return data
}

/** The options a fetch hands its dispatcher, caught before anything is sent. */
async function dispatchedBy(
  fetchImpl: (url: string, init: RequestInit) => Promise<unknown>,
  init: RequestInit,
): Promise<Dispatcher.DispatchOptions> {
  let seen: Dispatcher.DispatchOptions | undefined
  const dispatcher = {
    dispatch(options: Dispatcher.DispatchOptions, handler: Record<string, (...args: unknown[]) => void>) {
      seen = options
      const stop = new Error('caught')
      // undici 8 (Node 26) hands new-style handlers, undici 6 and 7 legacy ones.
      queueMicrotask(() => (handler.onResponseError ? handler.onResponseError({}, stop) : handler.onError?.(stop)))
      return true
    },
  }
  await fetchImpl('http://127.0.0.1:8123/x', { method: 'PUT', ...init, dispatcher } as RequestInit).catch(() => {})
  if (seen === undefined) throw new Error('fetch did not dispatch')
  return seen
}

const knownLength: [string, () => RequestInit][] = [
  ['a string', () => ({ body: 'hello' })],
  ['bytes', () => ({ body: bytes('hello') })],
  ['a Buffer', () => ({ body: Buffer.from('hello') })],
  ['an ArrayBuffer', () => ({ body: bytes('hello').buffer })],
  ['a Blob', () => ({ body: new Blob(['hello']) })],
  ['URLSearchParams', () => ({ body: new URLSearchParams('a=b') })],
  ['a string, with headers after content-type', () => ({ body: 'hello', headers: { 'x-after': '1' } })],
]
const streams: [string, () => RequestInit][] = [
  ['a ReadableStream', () => ({ body: webStream(), duplex: 'half' }) as RequestInit],
  [
    'a ReadableStream with content-length',
    () => ({ body: webStream(), duplex: 'half', headers: { 'content-length': '5' } }) as RequestInit,
  ],
  [
    'a ReadableStream with Content-Length and more headers',
    () =>
      ({
        body: webStream(),
        duplex: 'half',
        headers: { 'content-type': 'application/octet-stream', 'Content-Length': '5', 'x-after': '1' },
      }) as RequestInit,
  ],
  [
    'a ReadableStream with content-length in a Headers object',
    () =>
      ({
        body: webStream(),
        duplex: 'half',
        headers: new Headers({ 'content-length': '5', 'content-type': 'application/octet-stream' }),
      }) as RequestInit,
  ],
  [
    'a Node Readable with content-length',
    () =>
      ({ body: Readable.from([Buffer.from('hello')]), duplex: 'half', headers: { 'content-length': '5' } }) as never,
  ],
  [
    'an async generator with content-length',
    () => ({ body: generator(), duplex: 'half', headers: { 'content-length': '5' } }) as never,
  ],
]

describe('what the dispatcher can tell of a fetch body on its own', () => {
  for (const [name, fetchImpl] of [
    ['Node fetch', globalThis.fetch],
    ['npm undici fetch', undiciFetch],
  ] as const) {
    describe(name, () => {
      const fetchOf = fetchImpl as (url: string, init: RequestInit) => Promise<unknown>
      for (const [kind, init] of knownLength) {
        it(`records ${kind}: fetch wrote its content-length`, async () => {
          const { body, headers } = await dispatchedBy(fetchOf, init())
          expect(hasContentLengthFromFetch(headers as never)).toBe(true)
          expect(classifyBody(body, headers as never, MAX)).toBe('recordable')
          expect(classifyBody(body, headers as never, 2)).toBe('too-large')
        })
      }
      for (const [kind, init] of streams) {
        it(`never records ${kind}`, async () => {
          const { body, headers } = await dispatchedBy(fetchOf, init())
          expect(hasContentLengthFromFetch(headers as never)).toBe(false)
          expect(classifyBody(body, headers as never, MAX)).toBe('stream')
        })
      }
      it('does not record a string whose content-length the caller wrote: it cannot be told from a stream', async () => {
        const { body, headers } = await dispatchedBy(fetchOf, { body: 'hello', headers: { 'content-length': '5' } })
        expect(classifyBody(body, headers as never, MAX)).toBe('stream')
        // A staleguard fetch knows the body and says so.
        expect(classifyBody(body, headers as never, MAX, 'replayable')).toBe('recordable')
      })
      it('takes a stream for a known length only when the caller wrote its headers as fetch does (the documented limit)', async () => {
        const init = {
          body: webStream(),
          duplex: 'half',
          headers: { accept: '*/*', 'accept-language': '*', 'content-length': '5' },
        } as RequestInit
        const { body, headers } = await dispatchedBy(fetchOf, init)
        expect(classifyBody(body, headers as never, MAX)).toBe('recordable')
        expect(classifyBody(body, headers as never, MAX, 'stream')).toBe('stream')
      })
    })
  }

  it('records FormData from Node fetch (npm undici knows only its own FormData class)', async () => {
    const { body, headers } = await dispatchedBy(globalThis.fetch as never, { body: form() })
    expect(classifyBody(body, headers as never, MAX)).toBe('recordable')
  })
})

describe('classifyBody', () => {
  const fetchHeaders = { accept: '*/*', 'accept-language': '*', 'content-length': '5', 'sec-fetch-mode': 'cors' }

  it('sends again what undici can send as it is, whatever the mark', () => {
    for (const body of [undefined, null, 'hello', bytes('hello'), Buffer.from('x'), new Blob(['x']), form()]) {
      expect(classifyBody(body, {}, MAX)).toBe('reusable')
      expect(classifyBody(body, {}, MAX, 'stream')).toBe('reusable')
    }
  })

  it('never records a Node stream, nor an iterable marked as the caller’s stream', () => {
    expect(classifyBody(Readable.from(['x']), fetchHeaders, MAX, 'replayable')).toBe('stream')
    expect(classifyBody(generator(), fetchHeaders, MAX, 'stream')).toBe('stream')
    expect(classifyBody(webStream(), fetchHeaders, MAX, 'stream')).toBe('stream')
  })

  it('records an iterable marked replayable, by its declared length', () => {
    expect(classifyBody(generator(), { 'content-length': '5' }, MAX, 'replayable')).toBe('recordable')
    // Node 20 and 22 append fetch's own length to the caller's equal one.
    expect(classifyBody(generator(), { 'content-length': '5, 5' }, MAX, 'replayable')).toBe('recordable')
    expect(classifyBody(generator(), { 'content-length': '5, 6' }, MAX, 'replayable')).toBe('stream')
    expect(classifyBody(generator(), { 'content-length': '-1' }, MAX, 'replayable')).toBe('stream')
    expect(classifyBody(generator(), {}, MAX, 'replayable')).toBe('stream')
    expect(classifyBody(generator(), { 'content-length': '5' }, 4, 'replayable')).toBe('too-large')
  })

  it('reads where fetch put content-length in each header shape undici takes', () => {
    const flat = Object.entries(fetchHeaders).flat()
    expect(classifyBody(generator(), fetchHeaders, MAX)).toBe('recordable')
    expect(classifyBody(generator(), flat, MAX)).toBe('recordable')
    expect(classifyBody(generator(), new Map(Object.entries(fetchHeaders)), MAX)).toBe('recordable')
    expect(classifyBody(generator(), ['content-length', '5', 'x-other', '1'], MAX)).toBe('stream')
    expect(classifyBody(generator(), ['Content-Length', '5', 'sec-fetch-mode', 'cors'], MAX)).toBe('stream')
  })
})

describe('what an entry point says of a body', () => {
  it('fetch streams a ReadableStream and any async iterable; everything else has a known length', () => {
    const cases: [unknown, BodySource | undefined][] = [
      [undefined, undefined],
      [null, undefined],
      ['x', 'replayable'],
      [bytes('x'), 'replayable'],
      [bytes('x').buffer, 'replayable'],
      [new Blob(['x']), 'replayable'],
      [form(), 'replayable'],
      [new URLSearchParams('a=b'), 'replayable'],
      [{ toString: () => 'x' }, 'replayable'],
      [webStream(), 'stream'],
      [Readable.from(['x']), 'stream'],
      [generator(), 'stream'],
    ]
    for (const [body, source] of cases) expect(fetchBodySourceOf(body)).toBe(source)
  })

  it('the fast path marks only the bodies the dispatcher could take for fetch’s generator', () => {
    expect(requestBodySourceOf(generator())).toBe('stream')
    expect(requestBodySourceOf(webStream())).toBe('stream')
    expect(requestBodySourceOf([Buffer.from('x')])).toBe('stream')
    for (const body of [undefined, null, 'x', Buffer.from('x'), new Blob(['x']), form(), Readable.from(['x'])]) {
      expect(requestBodySourceOf(body)).toBeUndefined()
    }
  })
})
