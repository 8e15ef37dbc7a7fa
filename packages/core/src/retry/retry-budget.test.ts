import { describe, expect, it } from 'vitest'
import { RetryBudget } from './retry-budget.js'

describe('RetryBudget', () => {
  it('allows the floor even when there is no traffic, then refuses', () => {
    const budget = new RetryBudget({ ratio: 0.2, minRetries: 3, windowMs: 10_000 })
    const granted = Array.from({ length: 5 }, () => budget.tryTakeRetry(1_000)).filter(Boolean).length
    expect(granted).toBe(3)
  })

  it('allows retries up to the ratio of requests in the window', () => {
    const budget = new RetryBudget({ ratio: 0.2, minRetries: 0, windowMs: 10_000 })
    for (let i = 0; i < 100; i++) budget.recordRequest(1_000 + i)
    const granted = Array.from({ length: 50 }, () => budget.tryTakeRetry(2_000)).filter(Boolean).length
    expect(granted).toBe(20)
  })

  it('forgets requests and retries that slid out of the window', () => {
    const budget = new RetryBudget({ ratio: 0.5, minRetries: 0, windowMs: 1_000 })
    for (let i = 0; i < 10; i++) budget.recordRequest(0)
    expect(Array.from({ length: 10 }, () => budget.tryTakeRetry(100)).filter(Boolean).length).toBe(5)
    // 2 s later the old traffic no longer pays for retries.
    expect(budget.tryTakeRetry(2_100)).toBe(false)
    for (let i = 0; i < 4; i++) budget.recordRequest(2_200)
    expect(Array.from({ length: 4 }, () => budget.tryTakeRetry(2_300)).filter(Boolean).length).toBe(2)
  })

  it('takes a retry that got a response off the window it was taken in, and only within the window', () => {
    const budget = new RetryBudget({ ratio: 0, minRetries: 2, windowMs: 1_000 })
    expect(budget.tryTakeRetry(100)).toBe(true)
    expect(budget.tryTakeRetry(150)).toBe(true)
    expect(budget.tryTakeRetry(200)).toBe(false)
    // Both retries succeed, one bucket later: the budget is whole again.
    budget.refundRetry(100, 250)
    budget.refundRetry(150, 260)
    expect(budget.tryTakeRetry(300)).toBe(true)
    expect(budget.tryTakeRetry(310)).toBe(true)
    expect(budget.tryTakeRetry(320)).toBe(false)
    // A refund for a retry that already slid out of the window gives nothing back.
    budget.refundRetry(300, 1_350)
    expect(budget.tryTakeRetry(1_360)).toBe(true)
    expect(budget.tryTakeRetry(1_370)).toBe(true)
    expect(budget.tryTakeRetry(1_380)).toBe(false)
    // Nor does a second refund for the same bucket beyond what was taken there.
    budget.refundRetry(1_360, 1_390)
    budget.refundRetry(1_360, 1_390)
    budget.refundRetry(1_360, 1_390)
    expect(budget.tryTakeRetry(1_400)).toBe(true)
    expect(budget.tryTakeRetry(1_410)).toBe(true)
    expect(budget.tryTakeRetry(1_420)).toBe(false)
  })
})
