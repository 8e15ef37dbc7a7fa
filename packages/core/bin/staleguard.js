#!/usr/bin/env node
// The `staleguard` bin is this committed file, not dist/cli.js: package managers link bins on install, and in
// a clone `pnpm install` runs before any build has written dist/.
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli.js', import.meta.url)
if (existsSync(cli)) {
  await import(cli.href)
} else {
  process.stderr.write('staleguard: the CLI is not built yet: run `npx -y pnpm@10 build` in the repository first\n')
  process.exitCode = 1
}
