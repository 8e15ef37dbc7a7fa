#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { probeIdleLimit } from './probe/probe-idle-limit.js'
import { formatProgress, formatReport } from './probe/report-text.js'

const USAGE = `Usage: staleguard probe <url> [options]

Measures how long the upstream at <url>, and every proxy or load balancer in front of it, keeps an idle
keep-alive connection, and prints the staleguard options to use. Sends only GET (or HEAD) requests to <url>.

Options:
  --min <time>       shortest idle time to try (default 1s)
  --max <time>       longest idle time to try; the probe ends within it plus ~15 s (default 2m)
  --parallel <n>     connections left idle at once (default 4)
  --method GET|HEAD  request method (default GET)
  --json             print the report as JSON
Times: 700ms, 5s, 6m, or plain milliseconds.`

export function parseDuration(text: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (!match) throw new Error(`--${name}: expected a time such as 700ms, 5s or 6m (got ${text})`)
  const value = Number(match[1])
  return Math.round(match[2] === 's' ? value * 1_000 : match[2] === 'm' ? value * 60_000 : value)
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      min: { type: 'string', default: '1s' },
      max: { type: 'string', default: '2m' },
      parallel: { type: 'string', default: '4' },
      method: { type: 'string', default: 'GET' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const [command, url] = positionals
  if (values.help || command !== 'probe' || url === undefined) {
    ;(values.help ? process.stdout : process.stderr).write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  const method = values.method.toUpperCase()
  if (method !== 'GET' && method !== 'HEAD') throw new Error('--method: the probe sends only GET or HEAD')
  const minMs = parseDuration(values.min, 'min')
  const maxMs = parseDuration(values.max, 'max')
  const parallel = Number(values.parallel)
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 16)
    throw new Error('--parallel: an integer from 1 to 16')

  const tty = process.stderr.isTTY === true
  let lastLine = 0
  const report = await probeIdleLimit(url, {
    minMs,
    maxMs,
    parallel,
    method,
    onProgress(progress) {
      const line = formatProgress(progress)
      if (tty) process.stderr.write(`\r\x1b[2K${line}`)
      else if (progress.elapsedMs - lastLine >= 10_000 || lastLine === 0) {
        lastLine = Math.max(1, progress.elapsedMs)
        process.stderr.write(`${line}\n`)
      }
    },
  })
  if (tty) process.stderr.write('\r\x1b[2K')
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
    process.stderr.write(`staleguard: ${(error as Error).message}\n`)
    process.exitCode = 1
  },
)
