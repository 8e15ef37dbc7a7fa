import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/** The real proxies the lab runs. */
export type LabTool = 'nginx' | 'haproxy' | 'squid'

/**
 * Finds a lab tool (nginx, haproxy, squid) on PATH or in the sbin folders Debian installs to. In CI a missing
 * tool is an error, never a silent skip: `.ci/run` installs them.
 */
export function findTool(name: LabTool): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']
  for (const dir of dirs) {
    if (!dir) continue
    const candidate = join(dir, name)
    if (existsSync(candidate)) return candidate
  }
  return null
}

export function isCI(): boolean {
  return process.env.CI === 'true' || process.env.CI === '1'
}

/** The tool's path; in CI a missing tool throws so the test fails loudly. */
export function requireTool(name: LabTool): string | null {
  const found = findTool(name)
  if (found === null && isCI())
    throw new Error(`${name} is required in CI (CI=true) but was not found; .ci/run installs it with apt-get`)
  return found
}
