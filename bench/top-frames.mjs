#!/usr/bin/env node
// Sums self time per function in a V8 .cpuprofile and prints the top entries, and separately those in
// staleguard's own files: where the per-request path spends its time.
import { readFileSync } from 'node:fs'

const [file, limitText = '25'] = process.argv.slice(2)
const profile = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map()
const deltas = profile.timeDeltas
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i])
  const { functionName, url, lineNumber } = node.callFrame
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules\/\.pnpm\/[^/]+\/node_modules\/|packages\/)/, '')}:${lineNumber + 1}`
  self.set(key, (self.get(key) ?? 0) + (deltas[i] ?? 0))
}
const total = [...self.values()].reduce((a, b) => a + b, 0)
const print = (title, entries) => {
  console.log(`\n${title}`)
  for (const [key, us] of entries) console.log(`${((us / total) * 100).toFixed(2).padStart(6)} %  ${key}`)
}
const sorted = [...self.entries()].sort((a, b) => b[1] - a[1])
print(`top ${limitText} by self time (of ${(total / 1000).toFixed(0)} ms)`, sorted.slice(0, Number(limitText)))
const ours = sorted.filter(([key]) => key.includes('core/src/') || key.includes('core/dist/'))
print(
  `staleguard's own functions: ${((ours.reduce((a, [, us]) => a + us, 0) / total) * 100).toFixed(2)} % in all`,
  ours.slice(0, Number(limitText)),
)
