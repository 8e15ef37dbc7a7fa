import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AddressRefresh, type AddressLookup, isHostName } from './address-refresh.js'

/** A lookup that answers what the test sets, counting calls. */
function scriptedLookup() {
  const state = { answer: [{ address: '10.0.0.1', family: 4 }] as unknown, error: null as Error | null, calls: 0 }
  const lookup: AddressLookup = (_hostname, _options, callback) => {
    state.calls++
    callback(state.error, state.answer)
  }
  return { lookup, state }
}

describe('AddressRefresh', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('looks the name up again every interval while started, and not once stopped', () => {
    const { lookup, state } = scriptedLookup()
    const answers: string[][] = []
    const refresh = new AddressRefresh('svc.internal', lookup, 1_000, (set) => answers.push([...set]))
    refresh.start()
    refresh.start()
    vi.advanceTimersByTime(999)
    expect(state.calls).toBe(0)
    vi.advanceTimersByTime(1)
    expect(state.calls).toBe(1)
    state.answer = [
      { address: '10.0.0.2', family: 4 },
      { address: '10.0.0.3', family: 4 },
    ]
    vi.advanceTimersByTime(1_000)
    expect(answers).toEqual([['10.0.0.1'], ['10.0.0.2', '10.0.0.3']])
    expect(refresh.addresses).toEqual(['10.0.0.2', '10.0.0.3'])
    refresh.stop()
    vi.advanceTimersByTime(10_000)
    expect(state.calls).toBe(2)
  })

  it('looks again when the answer’s TTL ends, if sooner than the interval (never under 1 s)', () => {
    const { lookup, state } = scriptedLookup()
    state.answer = [{ address: '10.0.0.1', family: 4, ttl: 3 }]
    const refresh = new AddressRefresh('svc.internal', lookup, 60_000, () => {})
    refresh.start()
    vi.advanceTimersByTime(60_000)
    expect(state.calls).toBe(1)
    vi.advanceTimersByTime(3_000)
    expect(state.calls).toBe(2)
    state.answer = [{ address: '10.0.0.1', family: 4, ttl: 0 }]
    vi.advanceTimersByTime(3_000)
    expect(state.calls).toBe(3)
    vi.advanceTimersByTime(999)
    expect(state.calls).toBe(3)
    vi.advanceTimersByTime(1)
    expect(state.calls).toBe(4)
    refresh.stop()
  })

  it('changes nothing on a failed or empty answer, and keeps looking', () => {
    const { lookup, state } = scriptedLookup()
    const answers: string[][] = []
    const refresh = new AddressRefresh('svc.internal', lookup, 1_000, (set) => answers.push([...set]))
    refresh.start()
    state.error = Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' })
    vi.advanceTimersByTime(1_000)
    state.error = null
    state.answer = []
    vi.advanceTimersByTime(1_000)
    expect(answers).toEqual([])
    expect(refresh.addresses).toBeNull()
    state.answer = [{ address: '10.0.0.9', family: 4 }]
    vi.advanceTimersByTime(1_000)
    expect(answers).toEqual([['10.0.0.9']])
    refresh.stop()
  })

  it('takes a lookup that answers one address, ignoring `all`, and one that throws', () => {
    const single: AddressLookup = (_hostname, _options, callback) => callback(null, '10.0.0.5', 4)
    const answers: string[][] = []
    const refresh = new AddressRefresh('svc.internal', single, 1_000, (set) => answers.push([...set]))
    refresh.start()
    vi.advanceTimersByTime(1_000)
    expect(answers).toEqual([['10.0.0.5']])
    refresh.stop()
    const throwing: AddressLookup = () => {
      throw new Error('resolver down')
    }
    const calls: number[] = []
    const other = new AddressRefresh('svc.internal', throwing, 1_000, () => calls.push(1))
    other.start()
    vi.advanceTimersByTime(3_000)
    expect(calls).toEqual([])
    other.stop()
  })

  it('knows a name from an address', () => {
    expect(isHostName('api.example.com')).toBe(true)
    expect(isHostName('127.0.0.1')).toBe(false)
    expect(isHostName('[::1]')).toBe(false)
  })
})
