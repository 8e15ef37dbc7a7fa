import { describe, expect, it } from 'vitest'
import { idleLimitBelow } from '../config/intermediaries.js'
import type { ProbeProgress, ProbeReport } from './probe-idle-limit.js'
import { tidyIdleTimeout } from './probe-idle-limit.js'
import { formatConnections, formatReport } from './report-text.js'

describe('tidyIdleTimeout', () => {
  it.each([
    [9_001, 9_000],
    [700, 700],
    [698, 650],
    [4_990, 4_900],
    [75_480, 75_000],
    [348_700, 345_000],
    [600_400, 600_000],
    [42, 42],
  ])('rounds %i ms down to %i ms', (measured, tidy) => {
    expect(tidyIdleTimeout(measured)).toBe(tidy)
  })

  it('never rounds up, so staleguard never keeps less margin than the measurement would give', () => {
    for (let ms = 1; ms < 700_000; ms += 97) {
      const tidy = tidyIdleTimeout(ms)
      expect(tidy).toBeLessThanOrEqual(ms)
      expect(idleLimitBelow(tidy)).toBeLessThanOrEqual(idleLimitBelow(ms))
    }
  })
})

describe('the probe report', () => {
  const report: ProbeReport = {
    url: 'https://api.internal/health',
    method: 'GET',
    keepAlive: true,
    keepAliveHintSeconds: null,
    observations: [
      { idleMs: 5_000, outcome: 'alive', endedAfterMs: null },
      { idleMs: 12_000, outcome: 'closed-fin', endedAfterMs: 9_001 },
    ],
    aliveUpToMs: 5_000,
    deadFromMs: 9_001,
    closes: 'FIN',
    recommended: { upstreamIdleTimeout: 9_000, keepAliveTimeout: idleLimitBelow(9_000) },
    elapsedMs: 9_050,
  }

  it('gives the round limit as the line to paste for core and each adapter', () => {
    const text = formatReport(report, { minMs: 1_000, maxMs: 120_000, parallel: 4 })
    expect(text).toContain('Idle limit: 9.0 s; the hop closes idle connections with a FIN')
    expect(text).toContain('Recommended: upstreamIdleTimeout 9000 (the measured limit, rounded down)')
    expect(text).toContain('retires sockets after 8 s idle')
    for (const line of [
      "import { installGlobalDispatcher } from '@staleguard/core'",
      'installGlobalDispatcher({ upstreamIdleTimeout: 9000 })',
      "import fastifyStaleguard from '@staleguard/fastify'",
      'await app.register(fastifyStaleguard, { upstreamIdleTimeout: 9000 })',
      "import staleguard from '@staleguard/express'",
      "import staleguard from '@staleguard/koa'",
      'app.use(staleguard({ upstreamIdleTimeout: 9000 }))',
      "{ origins: { 'https://api.internal': { upstreamIdleTimeout: 9000 } } }",
    ]) {
      expect(text).toContain(line)
    }
  })

  it('shows one line per connection while the probe runs', () => {
    const progress: ProbeProgress = {
      round: 2,
      idleTimesMs: [1_000, 4_000],
      connections: [
        { idleMs: 1_000, state: 'alive', idleForMs: 1_000 },
        { idleMs: 4_000, state: 'idle', idleForMs: 2_000 },
      ],
      elapsedMs: 12_300,
      deadlineMs: 135_000,
      cause: 'tick',
    }
    expect(formatConnections(progress)).toEqual([
      'round 2: 12.3 s elapsed, ends by 2.3 min at the latest',
      '   1 [############]     1 s of     1 s  alive',
      '   2 [######------]     2 s of     4 s  idle',
    ])
  })
})
