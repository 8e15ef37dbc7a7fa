import { describe, expect, it } from 'vitest'
import { ProvenIdle } from './proven-idle.js'

describe('ProvenIdle', () => {
  it('allows 250 ms of idle before any evidence, then 90 % of the longest idle a reuse survived', () => {
    const proven = new ProvenIdle()
    expect(proven.provenMs).toBeNull()
    expect(proven.affordableMs).toBe(250)
    proven.onSuccessfulReuse(120)
    // Evidence below the floor leaves the floor.
    expect(proven.provenMs).toBe(120)
    expect(proven.affordableMs).toBe(250)
    proven.onSuccessfulReuse(2_000.4)
    expect(proven.provenMs).toBe(2_000)
    expect(proven.affordableMs).toBe(1_800)
    // A shorter reuse proves nothing new.
    proven.onSuccessfulReuse(900)
    expect(proven.provenMs).toBe(2_000)
  })

  it('drops below a stale failure: to half its idle time, never up', () => {
    const proven = new ProvenIdle()
    proven.onSuccessfulReuse(5_000)
    proven.onStaleFailure(3_000)
    expect(proven.provenMs).toBe(1_500)
    expect(proven.affordableMs).toBe(1_350)
    // A longer failure teaches nothing the evidence does not already say.
    proven.onStaleFailure(8_000)
    expect(proven.provenMs).toBe(1_500)
    // Nor one after almost no idle time (a request limit, a restart), nor one before any evidence.
    proven.onStaleFailure(200)
    expect(proven.provenMs).toBe(1_500)
    const fresh = new ProvenIdle()
    fresh.onStaleFailure(3_000)
    expect(fresh.provenMs).toBeNull()
  })
})
