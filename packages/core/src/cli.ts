#!/usr/bin/env node
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { probeIdleLimit } from './probe/probe-idle-limit.js'
import { createProgressView } from './probe/progress-view.js'
import { formatReport } from './probe/report-text.js'

const USAGE = `Usage: staleguard probe <url> [options]
       staleguard --help | --version

Measures how long the upstream at <url>, and every proxy or load balancer in front of it, keeps an idle
keep-alive connection, and prints the staleguard options to use. Sends only GET (or HEAD) requests to <url>.

Options:
  --min <time>       shortest idle time to try (default 1s)
  --max <time>       longest idle time to try; the probe ends within it plus ~15 s (default 2m)
  --parallel <n>     connections left idle at once (default 4)
  --method GET|HEAD  request method (default GET)
  --json             print the report as JSON
  -h, --help         print this help
  -v, --version      print the version
Times: 700ms, 5s, 6m, or plain milliseconds.`

/** A mistake in the command line: answered with the usage and exit code 2, as most CLIs do. */
class UsageError extends Error {}

export function parseDuration(text: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (!match) throw new UsageError(`--${name}: expected a time such as 700ms, 5s or 6m (got ${text})`)
  const value = Number(match[1])
  return Math.round(match[2] === 's' ? value * 1_000 : match[2] === 'm' ? value * 60_000 : value)
}

function parseTarget(text: string): URL {
  if (!URL.canParse(text)) {
    throw new UsageError(`${text} is not a URL: give the whole address, such as https://api.internal/health`)
  }
  const url = new URL(text)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`the probe speaks HTTP: give an http:// or https:// URL (got ${text})`)
  }
  return url
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        min: { type: 'string', default: '1s' },
        max: { type: 'string', default: '2m' },
        parallel: { type: 'string', default: '4' },
        method: { type: 'string', default: 'GET' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    })
  } catch (error) {
    // parseArgs says what is wrong in a sentence (unknown option, missing value): keep it, drop the stack.
    throw new UsageError((error as Error).message)
  }
}

/** Network failures in words: the error codes say what went wrong, not what to check. */
function describeFailure(error: NodeJS.ErrnoException, url: URL): string {
  const where = url.host
  switch (error.code) {
    case 'ECONNREFUSED':
      return `nothing accepts connections at ${where} (connection refused)`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${url.hostname} (${error.code})`
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot reach ${where} (${error.code})`
    case 'TIMEOUT':
      return `${where} sent no answer to the first request within 5 s`
    default:
      return `probing ${url.href} failed: ${error.message}${error.code && !error.message.includes(error.code) ? ` (${error.code})` : ''}`
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv)
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (values.version) {
    // ../package.json from src/ and from dist/ alike: core's own manifest.
    const { version } = createRequire(import.meta.url)('../package.json') as { version: string }
    process.stdout.write(`${version}\n`)
    return 0
  }
  const [command, target, ...extra] = positionals
  if (command === undefined) throw new UsageError('no command given')
  if (command !== 'probe') throw new UsageError(`unknown command: ${command}`)
  if (target === undefined) throw new UsageError('probe: which URL? (staleguard probe <url>)')
  if (extra.length > 0) throw new UsageError(`probe takes one URL (also got ${extra.join(' ')})`)
  const url = parseTarget(target)
  const method = values.method.toUpperCase()
  if (method !== 'GET' && method !== 'HEAD') throw new UsageError('--method: the probe sends only GET or HEAD')
  const minMs = parseDuration(values.min, 'min')
  const maxMs = parseDuration(values.max, 'max')
  if (!(minMs > 0 && maxMs >= minMs)) throw new UsageError('--min and --max: need 0 < min ≤ max')
  const parallel = Number(values.parallel)
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 16)
    throw new UsageError('--parallel: an integer from 1 to 16')

  const view = createProgressView(process.stderr)
  const report = await probeIdleLimit(url, {
    minMs,
    maxMs,
    parallel,
    method,
    // A terminal redraws in place, so it can follow each connection closely; a log gets a line now and then.
    progressIntervalMs: process.stderr.isTTY ? 250 : 1_000,
    onProgress: (progress) => view.update(progress),
  })
    .catch((error: NodeJS.ErrnoException) => {
      throw new Error(describeFailure(error, url))
    })
    .finally(() => view.done())
  process.stdout.write(
    values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report, { minMs, maxMs, parallel })}\n`,
  )
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    const usage = error instanceof UsageError
    process.stderr.write(`staleguard: ${(error as Error).message}\n${usage ? `\n${USAGE}\n` : ''}`)
    process.exitCode = usage ? 2 : 1
  },
)
