import { describe, expect, it } from 'vitest'
import { RequestLimitLearner } from './request-limit-learner.js'

describe('RequestLimitLearner', () => {
  it('learns a count seen twice in a row, and lowers it after an earlier death', () => {
    const learner = new RequestLimitLearner()
    expect(learner.onDeathAfter(3)).toBeNull()
    expect(learner.onDeathAfter(5)).toBeNull()
    expect(learner.learned).toBeNull()
    expect(learner.onDeathAfter(5)).toBe(5)
    expect(learner.learned).toBe(5)
    // At or above the limit: nothing new (a connection that outlived it was not retired in time).
    expect(learner.onDeathAfter(5)).toBeNull()
    expect(learner.onDeathAfter(7)).toBeNull()
    expect(learner.onDeathAfter(2)).toBe(2)
    expect(learner.learned).toBe(2)
  })

  it('ignores a connection that died before carrying anything', () => {
    const learner = new RequestLimitLearner()
    expect(learner.onDeathAfter(0)).toBeNull()
    expect(learner.onDeathAfter(0)).toBeNull()
    expect(learner.learned).toBeNull()
  })
})
