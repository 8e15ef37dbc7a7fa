import { describe, expect, it } from 'vitest'
import { RequestLimitLearner } from './request-limit-learner.js'

const MINUTE = 60_000

describe('RequestLimitLearner', () => {
  it('learns a count seen twice in a row, and lowers it after an earlier death', () => {
    const learner = new RequestLimitLearner()
    expect(learner.onDeathAfter(3, 0)).toBeNull()
    expect(learner.onDeathAfter(5, 0)).toBeNull()
    expect(learner.learned(0)).toBeNull()
    expect(learner.onDeathAfter(5, 0)).toBe(5)
    expect(learner.learned(0)).toBe(5)
    // At or above the limit: nothing new (a connection that outlived it was not retired in time).
    expect(learner.onDeathAfter(5, 0)).toBeNull()
    expect(learner.onDeathAfter(7, 0)).toBeNull()
    expect(learner.onDeathAfter(2, 0)).toBe(2)
    expect(learner.learned(0)).toBe(2)
  })

  it('ignores a connection that died before carrying anything', () => {
    const learner = new RequestLimitLearner()
    expect(learner.onDeathAfter(0, 0)).toBeNull()
    expect(learner.onDeathAfter(0, 0)).toBeNull()
    expect(learner.learned(0)).toBeNull()
  })

  it('tries a learned limit again after five minutes, doubting it until a connection shows it is gone', () => {
    const learner = new RequestLimitLearner()
    learner.onDeathAfter(3, 0)
    learner.onDeathAfter(3, 0)
    expect(learner.learned(5 * MINUTE)).toBe(3)
    expect(learner.doubted).toBeNull()
    expect(learner.learned(5 * MINUTE + 1)).toBeNull()
    expect(learner.doubted).toBe(3)
    // A connection answering after fewer requests says nothing; one answering past the old limit clears it.
    learner.onAnswerAfter(2)
    expect(learner.doubted).toBe(3)
    learner.onAnswerAfter(3)
    expect(learner.doubted).toBeNull()
  })

  it('brings a doubted limit back at the first death right at it', () => {
    const learner = new RequestLimitLearner()
    learner.onDeathAfter(4, 0)
    learner.onDeathAfter(4, 0)
    expect(learner.learned(6 * MINUTE)).toBeNull()
    expect(learner.onDeathAfter(4, 6 * MINUTE)).toBe(4)
    expect(learner.learned(6 * MINUTE)).toBe(4)
    expect(learner.doubted).toBeNull()
  })

  it('puts back a saved state', () => {
    const learner = new RequestLimitLearner()
    const saved = learner.state
    learner.onDeathAfter(1, 0)
    learner.onDeathAfter(1, 0)
    expect(learner.learned(0)).toBe(1)
    learner.restore(saved)
    expect(learner.learned(0)).toBeNull()
    // The count seen once before the save is forgotten with it: one more death teaches nothing.
    expect(learner.onDeathAfter(1, 0)).toBeNull()
  })
})
