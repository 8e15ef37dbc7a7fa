#!/usr/bin/env node
// Proves each published package loads for Node 20 CommonJS and ESM users and ships the types they resolve:
// publint checks package.json against the files, @arethetypeswrong/cli checks the types under every
// module resolution mode, no member marked @internal ships in the types, and a smoke test imports and
// requires the built files and runs every bin. A package with bins only (`staleguard`, the CLI's name) has no
// entry point to type or load: publint and the bins are what it ships.
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
  // Every entry point (`.`, and subpaths such as `@staleguard/core/adapter`); none for a bin-only package.
  const entries =
    pkg.exports === undefined && pkg.main === undefined
      ? []
      : Object.keys(pkg.exports ?? { '.': null }).filter((key) => key !== './package.json')
  if (entries.length > 0) {
    execFileSync(bin('attw'), ['--pack', '.', '--profile', 'node16'], { cwd: path, stdio: 'inherit' })
    for (const file of readdirSync(join(path, 'dist')).filter((name) => /\.d\.c?ts$/.test(name))) {
      // Members marked @internal are the packages' own wiring (stripInternal removes them with their comment).
      if (readFileSync(join(path, 'dist', file), 'utf8').includes('@internal'))
        throw new Error(`${pkg.name}: dist/${file} ships a member marked @internal`)
    }
    for (const entry of entries) {
      const specifier = entry === '.' ? pkg.name : `${pkg.name}/${entry.slice(2)}`
      const esm = `import * as m from '${specifier}'; if (Object.keys(m).length === 0) throw new Error('empty ESM export')`
      const cjs = `const m = require('${specifier}'); if (Object.keys(m).length === 0) throw new Error('empty CJS export')`
      execFileSync(process.execPath, ['--input-type=module', '-e', esm], { cwd: path, stdio: 'inherit' })
      execFileSync(process.execPath, ['-e', cjs], { cwd: path, stdio: 'inherit' })
    }
    console.log(`${pkg.name}: ESM import and CommonJS require both load (${entries.join(', ')})`)
  }
  // Each bin runs from the files it ships (the committed shim, then what it loads): `--version` answers.
  for (const [name, file] of Object.entries(typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {}))) {
    const version = execFileSync(process.execPath, [join(path, file), '--version'], { cwd: path, encoding: 'utf8' })
    if (!/^\d+\.\d+\.\d+/.test(version)) throw new Error(`${pkg.name}: bin ${name} --version printed ${version}`)
    console.log(`${pkg.name}: bin ${name} runs (--version: ${version.trim()})`)
  }
}
