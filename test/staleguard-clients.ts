import {
  type StaleguardDispatcher,
  type StaleguardOptions,
  createDispatcher,
  createFetch,
  createRequest,
} from '@staleguard/core'
import { type LabClient, fetchClient, requestClient } from '@staleguard/lab'
import { interceptors } from 'undici'

/** A staleguard entry point under test, built fresh for each scenario with the scenario's options. */
export interface StaleguardClientFactory {
  readonly name: string
  make(options?: StaleguardOptions): { client: LabClient; dispatcher: StaleguardDispatcher }
}

/**
 * Every way a user calls through staleguard. The lab's scenario table runs once per entry, so a new entry
 * point is proven by the same table instead of a copy of it.
 */
export const STALEGUARD_CLIENTS: readonly StaleguardClientFactory[] = [
  {
    name: 'createFetch',
    make(options) {
      const staleguardFetch = createFetch(options)
      return {
        client: fetchClient('staleguard', staleguardFetch, () => staleguardFetch.dispatcher.close()),
        dispatcher: staleguardFetch.dispatcher,
      }
    },
  },
  {
    name: 'request (fast path)',
    make(options) {
      const staleguardRequest = createRequest(options)
      return {
        client: requestClient('staleguard request', staleguardRequest, () => staleguardRequest.dispatcher.close()),
        dispatcher: staleguardRequest.dispatcher,
      }
    },
  },
  {
    // How undici 7 users add behaviour: the table holds with interceptors in front of staleguard.
    name: 'createFetch over compose(dns, redirect)',
    make(options) {
      const dispatcher = createDispatcher(options).compose(
        interceptors.dns(),
        interceptors.redirect({ maxRedirections: 3 }),
      )
      const staleguardFetch = createFetch(dispatcher)
      return { client: fetchClient('staleguard', staleguardFetch, () => dispatcher.close()), dispatcher }
    },
  },
  {
    // undici's own retry on top: it must never re-send what staleguard refuses to (a POST without a key).
    name: 'request (fast path) over compose(retry)',
    make(options) {
      const dispatcher = createDispatcher(options).compose(interceptors.retry())
      const staleguardRequest = createRequest(dispatcher)
      return {
        client: requestClient('staleguard request', staleguardRequest, () => dispatcher.close()),
        dispatcher,
      }
    },
  },
]
