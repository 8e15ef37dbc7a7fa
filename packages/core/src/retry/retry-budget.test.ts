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
})
