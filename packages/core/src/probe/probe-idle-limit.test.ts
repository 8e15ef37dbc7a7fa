import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { requireTool, startFaultProxy, startNginx } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import { describe, expect, it } from 'vitest'
import { probeIdleLimit } from './probe-idle-limit.js'

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url))
const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url))

describe('probeIdleLimit, against hops with known limits', () => {
  const upstream = useUpstream()

  it('brackets a NAT-style silent drop (RST on reuse) at 700 ms within 150 ms', async () => {
    const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 700 })
    const before = upstream.received.length
    const report = await probeIdleLimit(`${proxy.origin}/probe/nat`, { minMs: 200, maxMs: 3_000 })
    await proxy.close()
    // The proxy and the probe read their clocks at different turns of the event loop: allow 50 ms of skew.
    expect(report.closes).toBe('RST')
    expect(report.aliveUpToMs).toBeLessThanOrEqual(700 + 50)
    expect(report.deadFromMs).toBeGreaterThan(700 - 50)
    expect(report.deadFromMs! - report.aliveUpToMs!).toBeLessThanOrEqual(150)
    expect(report.recommended!.keepAliveTimeout).toBeLessThan(700)
    expect(report.elapsedMs).toBeLessThanOrEqual(3_000 + 15_000)
    // Only GETs to the given path ever reached the upstream.
    const sent = upstream.received.slice(before)
    expect(sent.length).toBeGreaterThan(0)
    expect(new Set(sent.map((r) => `${r.method} ${r.path}`))).toEqual(new Set(['GET /probe/nat']))
  })

  it('times a FIN-closing proxy exactly: 700 ms within 60 ms', async () => {
    const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'fin-race', idleMs: 700, finDelayMs: 0 })
    const report = await probeIdleLimit(`${proxy.origin}/probe/fin`, { minMs: 200, maxMs: 3_000, method: 'HEAD' })
    await proxy.close()
    expect(report.closes).toBe('FIN')
    expect(Math.abs(report.recommended!.upstreamIdleTimeout - 700)).toBeLessThanOrEqual(60)
  })

  it("measures real nginx's keepalive_timeout (1 s) within 100 ms", async (ctx) => {
    const binary = requireTool('nginx')
    if (binary === null) return ctx.skip()
    const nginx = await startNginx({ binary, upstreamPort: upstream.port, keepAliveTimeoutMs: 1_000 })
    const report = await probeIdleLimit(`${nginx.origin}/probe/nginx`, { minMs: 200, maxMs: 3_000 })
    await nginx.close()
    expect(report.closes).toBe('FIN')
    expect(Math.abs(report.recommended!.upstreamIdleTimeout - 1_000)).toBeLessThanOrEqual(100)
  })

  it('reports no limit when connections survive the longest idle time, and stops in time', async () => {
    const report = await probeIdleLimit(`${upstream.origin}/probe/alive`, { minMs: 100, maxMs: 1_500 })
    expect(report).toMatchObject({ deadFromMs: null, recommended: null, aliveUpToMs: 1_500, keepAliveHintSeconds: 60 })
    expect(report.elapsedMs).toBeLessThan(1_500 + 15_000)
  })

  it('runs as `staleguard probe <url>`, in text and JSON', async () => {
    const proxy = await startFaultProxy({ port: upstream.port }, { kind: 'rst-after-idle', idleMs: 400 })
    // Asynchronously: the proxy lives in this process and must keep serving while the CLI runs.
    const run = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', CLI, 'probe', `${proxy.origin}/probe/cli`, '--min', '100ms', '--max', '1.5s', ...args],
        { cwd: ROOT, encoding: 'utf8' },
      )
        .then(({ stdout, stderr }) => ({ status: 0, stdout, stderr }))
        .catch((error: { code?: number; stdout?: string; stderr?: string }) => ({
          status: error.code ?? 1,
          stdout: error.stdout ?? '',
          stderr: error.stderr ?? '',
        }))
    const [json, text] = await Promise.all([run('--json'), run()])
    await proxy.close()
    expect(json.status, json.stderr).toBe(0)
    const report = JSON.parse(json.stdout) as { aliveUpToMs: number; deadFromMs: number; closes: string }
    expect(report.closes).toBe('RST')
    expect(report.aliveUpToMs).toBeLessThanOrEqual(400 + 50)
    expect(report.deadFromMs).toBeGreaterThan(400 - 50)
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/Sends only GET requests/)
    expect(text.stdout).toMatch(/reset on reuse/)
    expect(text.stdout).toMatch(/await app\.register\(fastifyStaleguard, \{ upstreamIdleTimeout: \d+ \}\)/)
    expect(text.stderr).toMatch(/round 1: 4 connections idle/)
  })
})
