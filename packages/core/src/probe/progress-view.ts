import { formatConnections, formatProgress } from './report-text.js'
import type { ProbeProgress } from './probe-idle-limit.js'

export interface ProgressView {
  update(progress: ProbeProgress): void
  /** Clears what a terminal shows of the progress, before the report is printed. */
  done(): void
}

/** Plain lines into a pipe or file: a line when a round starts and every 10 s, as a log would keep them. */
const LOG_EVERY_MS = 10_000

/**
 * Shows the probe's progress on `stream`. On a terminal, a block of one line per connection is redrawn in
 * place; anywhere else (a CI log, a file) the lines are plain and few, since nothing can be redrawn there.
 */
export function createProgressView(stream: NodeJS.WriteStream): ProgressView {
  return stream.isTTY === true ? terminalView(stream) : logView(stream)
}

function logView(stream: NodeJS.WriteStream): ProgressView {
  let lastAt = Number.NEGATIVE_INFINITY
  return {
    update(progress) {
      if (progress.cause === 'connection') return
      if (progress.cause === 'tick' && progress.elapsedMs - lastAt < LOG_EVERY_MS) return
      lastAt = progress.elapsedMs
      stream.write(`${formatProgress(progress)}\n`)
    },
    done() {},
  }
}

function terminalView(stream: NodeJS.WriteStream): ProgressView {
  let drawn = 0
  // Up to the block's first line and erase from there down: the block is then written again, whole.
  const erase = () => (drawn === 0 ? '' : `\x1b[${drawn}F\x1b[J`)
  return {
    update(progress) {
      // A line wider than the terminal wraps onto two, and moving up `drawn` lines would then miss one.
      const columns = stream.columns > 1 ? stream.columns - 1 : 79
      const lines = formatConnections(progress).map((line) => line.slice(0, columns))
      stream.write(`${erase()}${lines.join('\n')}\n`)
      drawn = lines.length
    },
    done() {
      stream.write(erase())
      drawn = 0
    },
  }
}
