import { agentRetryOf } from '../agents/agent-retry.js'
import { isReplayableClientBody } from './replayable-body.js'

/** The part of got's options the integration reads and writes (got 12 to 14). */
interface GotRequestOptions {
  body?: unknown
  method?: string
  agent: { http?: unknown; https?: unknown; http2?: unknown }
}

/** What got hands `retry.calculateDelay`. */
export interface GotRetryObject {
  readonly attemptCount: number
  readonly retryOptions: { readonly limit: number }
  readonly error: unknown
  readonly computedValue: number
}

/** Options for `got.extend()`: the retry rule for stale reused sockets of staleguard agents. */
export interface GotStaleSocketOptions {
  readonly retry: { readonly calculateDelay: (retry: GotRetryObject) => number }
  readonly hooks: { readonly beforeRetry: Array<(error: unknown, retryCount: number) => void> }
}

/**
 * got retries ECONNRESET on its idempotent methods itself, after a backoff of about a second, on whatever
 * socket its agent hands out next. With these options, a request that died on a stale reused socket of a
 * staleguard agent before any response byte, safe to send twice (an idempotent method or an
 * `Idempotency-Key`) with a body that can be sent again, goes again at once, on a new connection; every other
 * failure keeps got's own retry rule. `retry.limit` still bounds it (got's default 2; 0 turns it off).
 *
 * @example
 * ```ts
 * import got from 'got'
 * import { createHttpAgent } from '@staleguard/core'
 * import { retryStaleSockets } from '@staleguard/core/got'
 * const client = got.extend({ agent: { http: createHttpAgent() } }, retryStaleSockets())
 * ```
 */
export function retryStaleSockets(): GotStaleSocketOptions {
  return {
    retry: {
      calculateDelay: ({ attemptCount, retryOptions, error, computedValue }) => {
        if (attemptCount > retryOptions.limit) return computedValue
        const retry = staleRetryOf(error)
        // Asked once per failure (got calls this before its beforeRetry hooks): the budget decides here.
        return retry?.sending() ? 1 : computedValue
      },
    },
    hooks: {
      beforeRetry: [
        (error) => {
          const retry = staleRetryOf(error)
          // The answer `calculateDelay` got: a retry the budget refused is got's own, through its own agent.
          if (!retry?.sending()) return
          const options = (error as { options: GotRequestOptions }).options
          options.agent = { ...options.agent, [retry.protocol === 'https:' ? 'https' : 'http']: retry.agent }
        },
      ],
    },
  }
}

function staleRetryOf(error: unknown): ReturnType<typeof agentRetryOf> {
  const retry = agentRetryOf(error)
  if (retry === null) return null
  const options = (error as { options?: GotRequestOptions }).options
  if ((error as { response?: unknown }).response !== undefined) return null
  // The request got asked for, not a redirect's hop of another method.
  if (options !== undefined && (options.method ?? 'GET').toUpperCase() !== retry.method) return null
  return options === undefined || isReplayableClientBody(options.body) ? retry : null
}
