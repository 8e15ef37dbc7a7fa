/**
 * Vitest fixtures for the lab, kept out of the main entry point so that the demo (and anything else that is
 * not a test) can use the lab without vitest: import them from `@staleguard/lab/vitest`.
 */
import { afterAll, beforeAll } from 'vitest'
import { type Upstream, type UpstreamOptions, startUpstream } from './upstream.js'

/** The upstream `useUpstream` starts: every member of `Upstream` but `close`, which the fixture owns. */
export type UpstreamFixture = Omit<Upstream, 'close'>

/**
 * Starts a lab upstream before the tests of the current suite (`beforeAll`) and closes it after them
 * (`afterAll`). Call it in a `describe` body, or at the top of a file:
 *
 *     const upstream = useUpstream()
 *     it('…', async () => { await fetch(upstream.origin + '/a') })
 *
 * The handle forwards to the started upstream: use it in the suite's tests and hooks, not while the suite is
 * being collected. Hooks registered after this call run inside its lifetime (with vitest's default
 * `sequence.hooks: 'stack'`, `beforeAll` hooks run in order and `afterAll` hooks in reverse), so a hop started
 * in front of the upstream closes before it.
 */
export function useUpstream(options?: UpstreamOptions): UpstreamFixture {
  let started: Upstream | undefined
  beforeAll(async () => {
    started = await startUpstream(options)
  })
  afterAll(() => started?.close())
  const upstream = (): Upstream => {
    if (started === undefined) {
      throw new Error('useUpstream(): the upstream starts in beforeAll; use it in tests and hooks')
    }
    return started
  }
  return {
    get origin() {
      return upstream().origin
    },
    get port() {
      return upstream().port
    },
    get received() {
      return upstream().received
    },
    count: (method, path) => upstream().count(method, path),
    get connections() {
      return upstream().connections
    },
  }
}
