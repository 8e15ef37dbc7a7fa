import {
  type StaleguardDispatcher,
  type StaleguardOptions,
  createDispatcher,
  createFetch,
  createRequest,
  getStaleguardDiagnostics,
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

/** The entry points without interceptors in front: what the tables behind other paths (proxies) run. */
export const UNCOMPOSED_CLIENTS: readonly StaleguardClientFactory[] = STALEGUARD_CLIENTS.filter(
  (factory) => !factory.name.includes(' over compose('),
)

/** The client, keeping each failure and a line on it (its diagnostics) for the assertion messages. */
export function recordingFailures(client: LabClient): { client: LabClient; errors: unknown[]; failures: string[] } {
  const errors: unknown[] = []
  const failures: string[] = []
  const send: LabClient['send'] = (url, init) =>
    client.send(url, init).catch((error: unknown) => {
      errors.push(error)
      const diagnostics = getStaleguardDiagnostics(error)
      failures.push(`${url}: ${String(error)} ${JSON.stringify({ ...diagnostics, staleSocketError: undefined })}`)
      throw error
    })
  return { client: { ...client, send }, errors, failures }
}
