import { setTimeout as delay } from 'node:timers/promises'

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return delay(ms)
}

/**
 * Polls `condition` every 10 ms until it holds or `timeoutMs` have passed; resolves with whether it held
 * (checked once more at the deadline), so a test can `expect(await until(…)).toBe(true)`.
 */
export async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (condition()) return true
    await sleep(10)
  }
  return condition()
}
