import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { useUpstream } from '@staleguard/lab/vitest'
import { describe, expect, it } from 'vitest'

// The built CLI through the committed bins, as `npx staleguard` runs it: the test run builds first.
const CORE_BIN = fileURLToPath(new URL('../bin/staleguard.js', import.meta.url))
const PACKAGE_BIN = fileURLToPath(new URL('../../staleguard/bin/staleguard.js', import.meta.url))
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string
}

interface Run {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

// Asynchronously: the upstream lives in this process and must keep serving while the CLI runs.
const run = (args: string[], bin = CORE_BIN): Promise<Run> =>
  promisify(execFile)(process.execPath, [bin, ...args], { encoding: 'utf8' })
    .then(({ stdout, stderr }) => ({ status: 0, stdout, stderr }))
    .catch((error: { code?: number; stdout?: string; stderr?: string }) => ({
      status: typeof error.code === 'number' ? error.code : 1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }))

/** A stack trace's frames: an answer to a user's mistake has none. */
const STACK_FRAME = /^\s+at /m

describe('the staleguard CLI', () => {
  it('prints its version, from both bins', async () => {
    for (const bin of [CORE_BIN, PACKAGE_BIN]) {
      const { status, stdout, stderr } = await run(['--version'], bin)
      expect(status, stderr).toBe(0)
      expect(stdout).toBe(`${version}\n`)
    }
    expect((await run(['-v'])).stdout).toBe(`${version}\n`)
  })

  it('prints its usage on --help and -h, to stdout with exit code 0', async () => {
    for (const flag of ['--help', '-h']) {
      const { status, stdout, stderr } = await run([flag])
      expect(status).toBe(0)
      expect(stdout).toMatch(/^Usage: staleguard probe <url> \[options\]/)
      expect(stderr).toBe('')
    }
  })

  it.each([
    [[], /no command given/],
    [['frob'], /unknown command: frob/],
    [['probe'], /which URL\?/],
    [['probe', 'http://a', '--bogus'], /Unknown option '--bogus'/],
    [['probe', 'http://a', '--min', '5q'], /--min: expected a time such as 700ms/],
    [['probe', 'not-a-url'], /^staleguard: not-a-url is not a URL: give the whole address/],
    [['probe', 'ftp://x'], /^staleguard: the probe speaks HTTP: give an http:\/\/ or https:\/\/ URL \(got ftp:\/\/x\)/],
  ])('answers %j with a sentence and the usage, on stderr with exit code 2', async (args, message) => {
    const { status, stdout, stderr } = await run(args)
    expect(status).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toMatch(message)
    expect(stderr).toMatch(/^Usage: staleguard probe/m)
    expect(stderr).not.toMatch(STACK_FRAME)
  })

  it('answers a refused connection with a sentence, exit code 1', async () => {
    const { status, stderr } = await run(['probe', 'http://127.0.0.1:1/health'])
    expect(status).toBe(1)
    expect(stderr).toMatch(/^staleguard: nothing accepts connections at 127\.0\.0\.1:1 \(connection refused\)$/m)
    expect(stderr).not.toMatch(STACK_FRAME)
  })

  describe('probe, against an upstream that closes idle connections', () => {
    const upstream = useUpstream({ keepAliveTimeoutMs: 500 })

    it('recommends a round limit below the measured one, with a snippet per adapter', async () => {
      const args = (...more: string[]) => [
        'probe',
        `${upstream.origin}/probe/cli`,
        '--min',
        '100ms',
        '--max',
        '3s',
        ...more,
      ]
      const [json, text] = await Promise.all([run(args('--json')), run(args())])
      expect(json.status, json.stderr).toBe(0)
      const report = JSON.parse(json.stdout) as {
        closes: string
        deadFromMs: number
        recommended: { upstreamIdleTimeout: number; keepAliveTimeout: number }
      }
      expect(report.closes).toBe('FIN')
      const { upstreamIdleTimeout, keepAliveTimeout } = report.recommended
      expect(upstreamIdleTimeout).toBeLessThanOrEqual(report.deadFromMs)
      expect(upstreamIdleTimeout % 50).toBe(0)
      expect(keepAliveTimeout).toBeLessThan(upstreamIdleTimeout)

      expect(text.status, text.stderr).toBe(0)
      const n = String.raw`\{ upstreamIdleTimeout: \d+ \}`
      expect(text.stdout).toMatch(new RegExp(String.raw`installGlobalDispatcher\(${n}\)`))
      expect(text.stdout).toMatch(new RegExp(String.raw`await app\.register\(fastifyStaleguard, ${n}\)`))
      expect(text.stdout).toMatch(new RegExp(String.raw`app\.use\(staleguard\(${n}\)\)`))
      expect(text.stdout).toMatch(/import staleguard from '@staleguard\/koa'/)
      // Not a terminal: plain progress lines, no cursor movement.
      expect(text.stderr).toMatch(/^round 1: 4 connections idle for/m)
      expect(text.stderr).not.toContain('\x1b[')
    })
  })
})
