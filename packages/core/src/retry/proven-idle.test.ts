import { describe, expect, it } from 'vitest'
import { ProvenIdle } from './proven-idle.js'

describe('ProvenIdle', () => {
  it('allows 250 ms of idle before any evidence, then 90 % of the longest idle a reuse survived', () => {
    const proven = new ProvenIdle(null)
    expect(proven.provenMs).toBeNull()
    expect(proven.affordableMs).toBe(250)
    proven.onSuccessfulReuse(120, 0)
    // Evidence below the floor leaves the floor.
    expect(proven.provenMs).toBe(120)
    expect(proven.affordableMs).toBe(250)
    proven.onSuccessfulReuse(2_000.4, 1)
    expect(proven.provenMs).toBe(2_000)
    expect(proven.affordableMs).toBe(1_800)
    // A shorter reuse proves nothing new.
    proven.onSuccessfulReuse(900, 2)
    expect(proven.provenMs).toBe(2_000)
  })

  it('drops below a stale failure, to half its idle time, and stays there for five minutes', () => {
    const proven = new ProvenIdle(null)
    proven.onSuccessfulReuse(5_000, 0)
    proven.onStaleFailure(3_000, 1_000)
    expect(proven.provenMs).toBe(1_500)
    expect(proven.affordableMs).toBe(1_350)
    // A longer failure teaches nothing the evidence does not already say.
    proven.onStaleFailure(8_000, 2_000)
    expect(proven.provenMs).toBe(1_500)
    // Nor one after almost no idle time (a request limit, a restart).
    proven.onStaleFailure(200, 3_000)
    expect(proven.provenMs).toBe(1_500)
    // A long reuse soon after (another load balancer node, say) does not lift it past the failure's half…
    proven.onSuccessfulReuse(4_000, 60_000)
    expect(proven.provenMs).toBe(1_500)
    // …five minutes after the last failure, it does.
    proven.onSuccessfulReuse(4_000, 2_000 + 5 * 60_000)
    expect(proven.provenMs).toBe(4_000)
  })

  it('takes a declared path as evidence up to the idle time kept below it, until a stale failure', () => {
    const proven = new ProvenIdle(54_000)
    expect(proven.affordableMs).toBe(54_000)
    proven.onStaleFailure(30_000, 0)
    expect(proven.affordableMs).toBe(250)
    const fresh = new ProvenIdle(null)
    fresh.onStaleFailure(3_000, 0)
    expect(fresh.provenMs).toBeNull()
  })
})
