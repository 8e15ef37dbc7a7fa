#!/usr/bin/env node
// Instruction counts (callgrind) per request for a framework route calling the upstream through the scoped
// fetch vs bare fetch: `node bench/instructions.mjs [koa|express|fastify …]`. Each variant runs twice, with
// LOW and HIGH requests; (instructions(HIGH) − instructions(LOW)) / (HIGH − LOW) is one request, startup
// excluded. Repeatable whatever else the machine is doing. Takes a few minutes per framework.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const LOW = Number(process.env.LOW ?? 500)
const HIGH = Number(process.env.HIGH ?? 2000)
const frameworks = process.argv.slice(2).length ? process.argv.slice(2) : ['fastify', 'express', 'koa']
const dir = mkdtempSync(join(tmpdir(), 'staleguard-callgrind-'))

function instructions(framework, variant, count) {
  const out = join(dir, `${framework}.${variant}.${count}`)
  const result = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--import', 'tsx', 'bench/instructions.ts', framework, variant, String(count)], {
    env: { ...process.env, TSX_TSCONFIG_PATH: 'bench/tsconfig.json' },
    encoding: 'utf8',
  })
  const match = /summary: (\d+)/.exec(readFileSync(out, 'utf8')) ?? /Collected : (\d+)/.exec(result.stderr)
  if (!match) throw new Error(`no instruction count for ${framework} ${variant} ${count}:\n${result.stderr}`)
  return Number(match[1])
}

for (const framework of frameworks) {
  const perRequest = {}
  for (const variant of ['bare', 'scoped']) {
    perRequest[variant] = (instructions(framework, variant, HIGH) - instructions(framework, variant, LOW)) / (HIGH - LOW)
  }
  console.log(`${framework}: bare ${(perRequest.bare / 1e3).toFixed(0)} k instructions/request, scoped ${(perRequest.scoped / 1e3).toFixed(0)} k → bare/scoped ${(perRequest.bare / perRequest.scoped).toFixed(3)}`)
}
