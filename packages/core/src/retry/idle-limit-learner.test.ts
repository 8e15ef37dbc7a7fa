import { describe, expect, it } from 'vitest'
import { IdleLimitLearner } from './idle-limit-learner.js'

describe('IdleLimitLearner', () => {
  it('halves the idle time of a stale failure and never rises above the configured limit', () => {
    const learner = new IdleLimitLearner(4_000)
    expect(learner.onStaleFailure(1_000, 0)).toEqual({ previousMs: 4_000, limitMs: 500 })
    expect(learner.currentMs).toBe(500)
    // A later, longer failure does not raise it.
    expect(learner.onStaleFailure(3_000, 10)).toBeNull()
    expect(learner.currentMs).toBe(500)
  })

  it('keeps a floor and learns nothing from failures below it', () => {
    const learner = new IdleLimitLearner(4_000)
    expect(learner.onStaleFailure(200, 0)).toBeNull()
    expect(learner.onStaleFailure(400, 0)).toEqual({ previousMs: 4_000, limitMs: 250 })
  })

  it('raises the limit slowly after failures are forgotten, back to the configured one', () => {
    const learner = new IdleLimitLearner(1_000)
    learner.onStaleFailure(1_200, 0)
    expect(learner.currentMs).toBe(600)
    // Long reuses right after the failure teach nothing.
    for (let i = 0; i < 50; i++) expect(learner.onSuccessfulReuse(590, 1_000)).toBeNull()
    const later = 6 * 60_000
    const changes = []
    for (let i = 0; i < 100; i++) {
      const change = learner.onSuccessfulReuse(learner.currentMs * 0.9, later + i)
      if (change) changes.push(change.limitMs)
    }
    expect(changes).toEqual([750, 938, 1_000])
    expect(learner.learnedMs).toBeNull()
  })
})
