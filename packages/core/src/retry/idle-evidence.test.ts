import { describe, expect, it } from 'vitest'
import { IdleEvidence } from './idle-evidence.js'

const MINUTE = 60_000

describe('IdleEvidence: the idle limit', () => {
  it('moves just below the shortest idle that failed, not to half of it', () => {
    const evidence = new IdleEvidence(4_000, null, true)
    expect(evidence.onStaleFailure(2_000, 0)).toEqual({ previousMs: 4_000, limitMs: 1_800 })
    expect(evidence.learnedMs).toBe(1_800)
    // A longer failure says nothing new; a shorter one moves it down.
    expect(evidence.onStaleFailure(3_000, 10)).toBeNull()
    expect(evidence.onStaleFailure(1_600, 20)).toEqual({ previousMs: 1_800, limitMs: 1_440 })
    expect(evidence.limitMs).toBe(1_440)
  })

  it('closes in on a hop that drops flows after 1.5 s idle to within 10 % below it', () => {
    // Sockets are retired at the limit; any reuse idle past the hop's 1 500 ms dies, anything shorter survives.
    const hop = 1_500
    const evidence = new IdleEvidence(4_000, null, true)
    let now = 0
    for (const gap of [3_900, 2_600, 1_900, 1_700, 1_520, 1_480, 1_300, 1_450, 900, 3_000]) {
      now += gap
      const idle = Math.min(gap, evidence.limitMs)
      if (idle > hop) evidence.onStaleFailure(idle, now)
      else evidence.onSuccessfulReuse(idle, now)
    }
    expect(evidence.limitMs).toBeLessThan(hop)
    expect(evidence.limitMs).toBeGreaterThanOrEqual(hop * 0.85)
  })

  it('keeps a floor and learns nothing from failures at or below it', () => {
    const evidence = new IdleEvidence(4_000, null, true)
    expect(evidence.onStaleFailure(250, 0)).toBeNull()
    expect(evidence.onStaleFailure(260, 0)).toEqual({ previousMs: 4_000, limitMs: 250 })
  })

  it('raises the limit in steps five minutes after the last failure, back to the configured one', () => {
    const evidence = new IdleEvidence(1_000, null, true)
    evidence.onStaleFailure(600, 0)
    expect(evidence.limitMs).toBe(540)
    // Long reuses right after the failure teach nothing.
    for (let i = 0; i < 50; i++) expect(evidence.onSuccessfulReuse(530, 1_000)).toBeNull()
    const later = 6 * MINUTE
    const limits = []
    for (let i = 0; i < 100; i++) {
      const change = evidence.onSuccessfulReuse(evidence.limitMs * 0.9, later + i)
      if (change) limits.push(change.limitMs)
    }
    expect(limits).toEqual([675, 844, 1_000])
    expect(evidence.learnedMs).toBeNull()
  })

  it('learns no limit with learning off, and keeps the proof all the same', () => {
    const evidence = new IdleEvidence(4_000, null, false)
    evidence.onSuccessfulReuse(1_000, 0)
    expect(evidence.onStaleFailure(2_000, 1)).toBeNull()
    expect(evidence.limitMs).toBe(4_000)
    expect(evidence.provenMs).toBe(1_000)
  })

  it('puts back a saved state, keeping proofs gained since', () => {
    const evidence = new IdleEvidence(4_000, 3_000, true)
    evidence.onSuccessfulReuse(1_000, 0)
    const saved = evidence.state
    evidence.onStaleFailure(800, 1)
    expect(evidence.limitMs).toBe(720)
    expect(evidence.affordableMs).toBe(360)
    evidence.onSuccessfulReuse(600, 2)
    expect(evidence.restore(saved)).toEqual({ previousMs: 720, limitMs: 4_000 })
    expect(evidence.provenMs).toBe(1_000)
    expect(evidence.affordableMs).toBe(3_000)
  })
})

describe('IdleEvidence: the proof requests that cannot be replayed are held to', () => {
  it('allows 250 ms of idle before any evidence, then 90 % of the longest idle a reuse survived', () => {
    const evidence = new IdleEvidence(4_000, null, true)
    expect(evidence.provenMs).toBeNull()
    expect(evidence.affordableMs).toBe(250)
    evidence.onSuccessfulReuse(120, 0)
    expect(evidence.provenMs).toBe(120)
    expect(evidence.affordableMs).toBe(250)
    evidence.onSuccessfulReuse(2_000.4, 1)
    expect(evidence.provenMs).toBe(2_000)
    expect(evidence.affordableMs).toBe(1_800)
    evidence.onSuccessfulReuse(900, 2)
    expect(evidence.provenMs).toBe(2_000)
  })

  it('keeps a proof that a failure above it does not contradict', () => {
    const evidence = new IdleEvidence(4_000, null, true)
    evidence.onSuccessfulReuse(1_200, 0)
    evidence.onStaleFailure(2_000, 1)
    expect(evidence.provenMs).toBe(1_200)
    expect(evidence.affordableMs).toBe(1_080)
  })

  it('drops to half a failure that contradicts it, and stays below that for five minutes', () => {
    const evidence = new IdleEvidence(10_000, null, true)
    evidence.onSuccessfulReuse(5_000, 0)
    evidence.onStaleFailure(3_000, 1_000)
    expect(evidence.provenMs).toBe(1_500)
    expect(evidence.affordableMs).toBe(1_350)
    // A long reuse soon after (another load balancer node, say) does not lift it past the failure's half…
    evidence.onSuccessfulReuse(2_500, 60_000)
    expect(evidence.provenMs).toBe(1_500)
    // …five minutes after the failure, it does.
    evidence.onSuccessfulReuse(2_500, 1_000 + 5 * MINUTE)
    expect(evidence.provenMs).toBe(2_500)
  })

  it('takes a declared path as evidence up to the idle time kept below it, until a stale failure', () => {
    const evidence = new IdleEvidence(54_000, 54_000, true)
    expect(evidence.affordableMs).toBe(54_000)
    evidence.onStaleFailure(30_000, 0)
    expect(evidence.affordableMs).toBe(250)
  })
})
