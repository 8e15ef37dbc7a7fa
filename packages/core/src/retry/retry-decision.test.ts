import { describe, expect, it } from 'vitest'
import type { ResolvedRetry } from '../config/options.js'
import {
  MAX_UNPROCESSED_ATTEMPTS,
  type FailedAttempt,
  type FailureKind,
  type RetryLimits,
  classifyFailure,
  retryDecisionFor,
} from './retry-decision.js'

const stale: FailedAttempt = {
  aborted: false,
  bodyFailed: false,
  staleSocketError: true,
  reused: true,
  responseStarted: false,
  unprocessed: false,
}

describe('classifyFailure', () => {
  const cases: [string, Partial<FailedAttempt>, FailureKind][] = [
    ['a dead reused socket before any response byte', {}, 'stale'],
    ['an abort, whatever else is true', { aborted: true, bodyFailed: true, responseStarted: true }, 'aborted'],
    ["the body's own source failing, even with a stale-looking error", { bodyFailed: true }, 'body-failed'],
    ['an error of another shape (refused, DNS, TLS, timeout)', { staleSocketError: false }, 'not-stale'],
    ['a not-stale error on a new connection', { staleSocketError: false, reused: false }, 'not-stale'],
    ['a stale-looking error on a new connection', { reused: false }, 'fresh-connection'],
    ['a new connection after response bytes arrived', { reused: false, responseStarted: true }, 'fresh-connection'],
    ['a reused socket that had started answering', { responseStarted: true }, 'response-started'],
    [
      'an h2 stream the server never processed, even on a new session',
      { unprocessed: true, reused: false },
      'unprocessed',
    ],
    [
      'an unprocessed stream whatever the error looks like',
      { unprocessed: true, staleSocketError: false },
      'unprocessed',
    ],
    [
      'an "unprocessed" stream that had started answering',
      { unprocessed: true, responseStarted: true },
      'response-started',
    ],
    ['an unprocessed stream the caller aborted', { unprocessed: true, aborted: true }, 'aborted'],
  ]
  it.each(cases)('%s', (_name, change, kind) => {
    expect(classifyFailure({ ...stale, ...change })).toBe(kind)
  })
})

describe('retryDecisionFor', () => {
  const retry: ResolvedRetry = { maxRetries: 1, methods: new Set(['GET']), budget: null, maxReplayBodyBytes: 1024 }
  const cases: [string, Partial<RetryLimits>, string, boolean][] = [
    ['a replayable request with budget left', {}, 'retried', true],
    ['retries switched off', { retry: null }, 'retry-disabled', false],
    ['the one retry already used', { attempt: 2 }, 'retries-exhausted', false],
    ['a method not safe to send twice, without a key', { safeToSendTwice: false }, 'not-idempotent', false],
    ['a stream body', { body: 'stream' }, 'body-not-replayable', false],
    ['a body above the replay limit', { body: 'too-large' }, 'body-not-replayable', false],
    ['a recorded body', { body: 'recordable' }, 'retried', true],
    ['a closing dispatcher', { closing: true }, 'dispatcher-closed', false],
    ['an empty budget', { takeFromBudget: () => false }, 'budget-exhausted', true],
    [
      'every limit at once: the first in order answers',
      { retry: null, attempt: 3, safeToSendTwice: false, body: 'stream', closing: true },
      'retry-disabled',
      false,
    ],
    ['not idempotent and closing', { safeToSendTwice: false, closing: true }, 'not-idempotent', false],
    [
      'a stream turned away a 5th time: maxRetries does not bound it',
      { attempt: 5, unprocessedAttempts: 5 },
      'retried',
      true,
    ],
    [
      'a stream turned away as often as the last bound allows',
      { attempt: MAX_UNPROCESSED_ATTEMPTS, unprocessedAttempts: MAX_UNPROCESSED_ATTEMPTS },
      'retries-exhausted',
      false,
    ],
    [
      'a stream turned away, the budget empty',
      { unprocessedAttempts: 2, takeFromBudget: () => false },
      'budget-exhausted',
      true,
    ],
  ]
  it.each(cases)('%s', (_name, change, decision, budgetAsked) => {
    let asked = 0
    const limits: RetryLimits = {
      retry,
      attempt: 1,
      safeToSendTwice: true,
      body: 'reusable',
      closing: false,
      ...change,
      takeFromBudget: () => {
        asked++
        return change.takeFromBudget?.() ?? true
      },
    }
    expect(retryDecisionFor(limits)).toBe(decision)
    // The budget is asked last and only then: a retry another limit refuses spends none of it.
    expect(asked).toBe(budgetAsked ? 1 : 0)
  })
})
