/**
 * Vitest fixtures for the lab, kept out of the main entry point so that the demo (and anything else that is
 * not a test) can use the lab without vitest: import them from `@staleguard/lab/vitest`.
 */
import { afterAll, beforeAll } from 'vitest'
import { type Hop, type HopKind, startHop } from './scenarios.js'
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
    stopAccepting: () => upstream().stopAccepting(),
  }
}

/** The hop `useHop` starts: its origin and gaps, and whether it could start at all. */
export interface HopFixture extends Pick<Hop, 'origin' | 'gapMs'> {
  /** False when the hop's program (nginx, HAProxy) is not installed here (never in CI): skip the test. */
  readonly available: boolean
}

/**
 * Starts a hop of this kind in front of the upstream before the suite's tests and closes it after them, like
 * `useUpstream` (call it after that). A hop whose program is missing is said once and left unavailable.
 */
export function useHop(kind: HopKind, upstream: Pick<Upstream, 'port'>): HopFixture {
  let started: Hop | null = null
  beforeAll(async () => {
    started = await startHop(kind, upstream)
    if (started === null)
      console.warn(`[staleguard lab] ${kind} is not installed here: its scenarios are skipped (never in CI)`)
  })
  afterAll(() => started?.close())
  const hop = (): Hop => {
    if (started === null) throw new Error(`useHop(): ${kind} did not start; check \`available\` first`)
    return started
  }
  return {
    get available() {
      return started !== null
    },
    get origin() {
      return hop().origin
    },
    gapMs: (burst) => hop().gapMs(burst),
  }
}
