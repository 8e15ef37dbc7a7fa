#!/usr/bin/env node
// Proves each published package loads for Node 20 CommonJS and ESM users and ships the types they resolve:
// publint checks package.json against the files, @arethetypeswrong/cli checks the types under every
// module resolution mode, no member marked @internal ships in the types, and a smoke test imports and
// requires the built files.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name) => join(root, 'node_modules', '.bin', name)

for (const dir of readdirSync(join(root, 'packages'))) {
  const path = join(root, 'packages', dir)
  if (!existsSync(join(path, 'package.json'))) continue
  const pkg = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'))
  if (pkg.private) continue
  console.log(`\n== ${pkg.name}`)
  execFileSync(bin('publint'), ['--strict', '--pack', 'npm'], { cwd: path, stdio: 'inherit' })
  execFileSync(bin('attw'), ['--pack', '.', '--profile', 'node16'], { cwd: path, stdio: 'inherit' })
  for (const file of readdirSync(join(path, 'dist')).filter((name) => /\.d\.c?ts$/.test(name))) {
    // Members marked @internal are the packages' own wiring (stripInternal removes them with their comment).
    if (readFileSync(join(path, 'dist', file), 'utf8').includes('@internal'))
      throw new Error(`${pkg.name}: dist/${file} ships a member marked @internal`)
  }
  // Every entry point (`.`, and subpaths such as `@staleguard/core/adapter`), both ways.
  const entries = Object.keys(pkg.exports ?? { '.': null }).filter((key) => key !== './package.json')
  for (const entry of entries) {
    const specifier = entry === '.' ? pkg.name : `${pkg.name}/${entry.slice(2)}`
    const esm = `import * as m from '${specifier}'; if (Object.keys(m).length === 0) throw new Error('empty ESM export')`
    const cjs = `const m = require('${specifier}'); if (Object.keys(m).length === 0) throw new Error('empty CJS export')`
    execFileSync(process.execPath, ['--input-type=module', '-e', esm], { cwd: path, stdio: 'inherit' })
    execFileSync(process.execPath, ['-e', cjs], { cwd: path, stdio: 'inherit' })
  }
  console.log(`${pkg.name}: ESM import and CommonJS require both load (${entries.join(', ')})`)
}
