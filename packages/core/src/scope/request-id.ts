import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

const MAX_REQUEST_ID_LENGTH = 200

/**
 * The id of an incoming request, the same rule in every adapter: the one it arrived with (`header`), so a
 * trace keeps one id across services; else its framework's (read only then: adapters may compute it); else
 * a new one.
 */
export function requestIdOf(
  headers: IncomingHttpHeaders,
  header: string | null,
  framework: { readonly requestId?: unknown },
): string {
  const received = headers[header ?? 'x-request-id']
  if (typeof received === 'string' && received.length > 0 && received.length <= MAX_REQUEST_ID_LENGTH) return received
  return idText(framework.requestId) ?? newRequestId()
}

/**
 * A UUID for a request that arrived without an id: random in its first 80 bits (drawn once per process),
 * counting in its last 48. Unique in the process and across processes, like `randomUUID()`, but that one
 * assembles its string from sixteen pieces on every call; this is one concatenation. Request ids are labels
 * for correlating logs, not secrets.
 */
const REQUEST_ID_PREFIX = randomUUID().slice(0, 24)
let requestCounter = 0

function newRequestId(): string {
  requestCounter = (requestCounter + 1) % 0x1_0000_0000_0000
  return REQUEST_ID_PREFIX + requestCounter.toString(16).padStart(12, '0')
}

function idText(id: unknown): string | undefined {
  if ((typeof id === 'string' && id.length > 0) || typeof id === 'number')
    return String(id).slice(0, MAX_REQUEST_ID_LENGTH)
  return undefined
}
