#!/usr/bin/env node
// The whole test run, the same on a laptop and in CI: tools, build, types, lint and the import graph, package
// lint, the API reports, a short benchmark check, then the suite on this Node and on Node 22, 24 and 26. Prints a summary and exits
// non-zero if anything failed.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EXTRA_NODE_MAJORS, nodeBinary } from './ensure-tools.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const ci = process.env.CI === 'true' || process.env.CI === '1'
const pnpm = ['npx', ['-y', 'pnpm@10']]
const steps = []

function run(name, command, args, env = {}) {
  const started = performance.now()
  console.log(`\n━━ ${name}`)
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  const ok = result.status === 0
  steps.push({ name, ok, seconds: (performance.now() - started) / 1000 })
  return ok
}

if (!existsSync(join(root, 'node_modules', '.bin', 'vitest')))
  run('install', pnpm[0], [...pnpm[1], 'install', '--frozen-lockfile'])
run('tools (nginx, HAProxy, squid, Node 22/24/26)', process.execPath, [join(root, 'scripts', 'ensure-tools.mjs')])
run('build', pnpm[0], [...pnpm[1], 'build'])
run('typecheck', pnpm[0], [...pnpm[1], 'typecheck'])
run('lint (Biome)', join(root, 'node_modules', '.bin', 'biome'), ['check', '.'])
run('imports (no cycles, core layering)', process.execPath, [join(root, 'scripts', 'check-imports.mjs')])
run('package lint (publint, attw, CJS+ESM load)', process.execPath, [join(root, 'scripts', 'lint-packages.mjs')])
run('API reports (api/*.api.md match the built types)', process.execPath, [
  join(root, 'scripts', 'api-report.mjs'),
  '--check',
])
// A short benchmark, on a quiet machine before the suites: fails only on a slowdown noise never reaches.
run(
  'bench check (createFetch against fetch + a plain Agent)',
  process.execPath,
  ['--expose-gc', '--import', 'tsx', join(root, 'bench', 'check.ts')],
  { TSX_TSCONFIG_PATH: join(root, 'bench', 'tsconfig.json') },
)
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs')
run(`suite on Node ${process.versions.node}`, process.execPath, [vitest, 'run'])
for (const major of EXTRA_NODE_MAJORS) {
  const binary = nodeBinary(major)
  if (!existsSync(binary)) {
    if (ci) steps.push({ name: `suite on Node ${major}`, ok: false, seconds: 0 })
    else console.warn(`\nNode ${major} is not installed under .tools/: skipped (run \`pnpm tools\`)`)
    continue
  }
  run(`suite on Node ${major}`, binary, [vitest, 'run'])
}

console.log('\n━━ summary')
for (const step of steps)
  console.log(`${step.ok ? 'ok  ' : 'FAIL'}  ${step.seconds.toFixed(1).padStart(6)} s  ${step.name}`)
process.exit(steps.every((s) => s.ok) ? 0 : 1)
