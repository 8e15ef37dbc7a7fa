#!/usr/bin/env node
// `npx staleguard` runs this. The CLI itself is @staleguard/core's `staleguard` bin: run whatever that names,
// so that the two commands can never differ.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const require = createRequire(import.meta.url)
const manifest = require.resolve('@staleguard/core/package.json')
const { bin } = require(manifest)
await import(pathToFileURL(join(dirname(manifest), bin.staleguard)).href)
