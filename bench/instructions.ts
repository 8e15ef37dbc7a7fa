/**
 * Instruction counts per request, for comparisons this machine's timing noise cannot settle:
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --import tsx bench/instructions.ts koa scoped 2000
 * runs an app and its client in this process (the upstream in a child, which valgrind does not trace)
 * and sends `count` requests. Callgrind's total for two counts, divided by their difference, is the cost of
 * one request. `bench/instructions.mjs` drives the whole comparison.
 */
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { staleguard as koaStaleguard } from '@staleguard/koa'
import { staleguard as expressStaleguard } from '@staleguard/express'
import { fastifyStaleguard } from '@staleguard/fastify'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import { Agent, request } from 'undici'
import { startBenchUpstream } from './harness.js'

const [framework = 'koa', variant = 'scoped', countText = '1000'] = process.argv.slice(2)
const { origin, child } = await startBenchUpstream()
const agent = new Agent({ keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000 })
const url = `${origin}/items`
const scoped = variant === 'scoped'
const bare = (): Promise<string> => fetch(url, { dispatcher: agent } as unknown as RequestInit).then((r) => r.text())
let address: string
if (framework === 'koa') {
  const app = new Koa()
  if (scoped) app.use(koaStaleguard({ installGlobal: false }))
  app.use(async (ctx) => {
    ctx.type = 'application/json'
    ctx.body = await (scoped ? ctx.fetch(url).then((r) => r.text()) : bare())
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
} else if (framework === 'express') {
  const app = express()
  if (scoped) app.use(expressStaleguard({ installGlobal: false }))
  app.get('/', async (req, res) => {
    res.type('application/json').send(await (scoped ? req.fetch(url).then((r) => r.text()) : bare()))
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
} else {
  const app = Fastify()
  if (scoped) await app.register(fastifyStaleguard, { installGlobal: false })
  app.get('/', async (request, reply) => reply.type('application/json').send(await (scoped ? request.fetch(url).then((r) => r.text()) : bare())))
  address = await app.listen({ port: 0, host: '127.0.0.1' })
  address += '/'
}
const client = new Agent({ keepAliveTimeout: 10_000 })
const total = Number(countText)
let next = 0
await Promise.all(Array.from({ length: 8 }, async () => {
  while (next++ < total) await request(address, { dispatcher: client }).then((r) => r.body.text())
}))
child.disconnect()
process.exit(0)
