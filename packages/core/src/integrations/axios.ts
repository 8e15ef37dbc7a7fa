import { agentRetryOf } from '../agents/agent-retry.js'
import { isReplayableClientBody } from './replayable-body.js'

/** The part of an axios instance the integration uses (axios 1.x); the `axios` default export is one too. */
export interface AxiosLike {
  readonly interceptors: {
    readonly response: {
      use(onFulfilled: null, onRejected: (error: unknown) => unknown): number
      eject(id: number): void
    }
  }
  request(config: object): Promise<unknown>
}

/** The part of an axios error the integration reads. */
interface AxiosFailure {
  readonly config?: { readonly data?: unknown; readonly method?: string; readonly [option: string]: unknown }
  readonly response?: unknown
  /** follow-redirects' request, when axios followed a redirect: the failure may be a later hop's. */
  readonly request?: { readonly _redirectCount?: number }
}

/**
 * Sends a request again, once, immediately and on a new connection, when it died on a stale reused socket of a
 * staleguard agent before any response byte, and it is safe to send twice (an idempotent method or an
 * `Idempotency-Key`) with a body that can be sent again (not a stream): the dispatcher's rule, for axios.
 * Requests through any other agent are left alone. Returns a function that removes the interceptor.
 *
 * @example
 * ```ts
 * import axios from 'axios'
 * import { installGlobalAgents } from '@staleguard/core'
 * import { retryStaleSockets } from '@staleguard/core/axios'
 * installGlobalAgents()
 * retryStaleSockets(axios)
 * ```
 */
export function retryStaleSockets(instance: AxiosLike): () => void {
  const id = instance.interceptors.response.use(null, (error: unknown) => {
    const failure = error as AxiosFailure
    const retry = agentRetryOf(error)
    const config = failure?.config
    if (retry === null || config === undefined || failure.response !== undefined) return Promise.reject(error)
    // A redirect's hop failed: sending the config again would repeat the first hop (a POST turned GET).
    if ((failure.request?._redirectCount ?? 0) > 0) return Promise.reject(error)
    if ((config.method ?? 'get').toUpperCase() !== retry.method) return Promise.reject(error)
    if (!isReplayableClientBody(config.data) || !retry.sending()) return Promise.reject(error)
    const agentOption = retry.protocol === 'https:' ? 'httpsAgent' : 'httpAgent'
    return instance.request({ ...config, [agentOption]: retry.agent })
  })
  return () => instance.interceptors.response.eject(id)
}
