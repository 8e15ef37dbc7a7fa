import { setTimeout as sleep } from 'node:timers/promises'
import { getEventListeners } from 'node:events'
import { fastifyStaleguard } from '@staleguard/fastify'
import autocannon from 'autocannon'
import Fastify from 'fastify'
import { startBenchUpstream } from './harness.js'

interface Snapshot {
  readonly heapUsedMB: number
  readonly handles: number
  readonly listenersOnSharedSignal: number
}

const collect = (): void => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run the soak with --expose-gc (pnpm bench does)')
  for (let i = 0; i < 3; i++) gc()
}

/**
 * 100k incoming requests, each calling the upstream through request.fetch with an app-lifetime signal:
 * heap (after GC), handles and listeners on that signal before and after. Growth beyond noise is a leak.
 */
export async function benchSoak(options: { requests: number }): Promise<{ before: Snapshot; after: Snapshot }> {
  const { origin, child } = await startBenchUpstream()
  const appLifetime = new AbortController()
  const app = Fastify()
  await app.register(fastifyStaleguard, { installGlobal: false })
  app.get('/items', async (request, reply) => {
    const response = await request.fetch(`${origin}/items`, { signal: appLifetime.signal })
    return reply.type('application/json').send(await response.text())
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const snapshot = async (): Promise<Snapshot> => {
    await sleep(200)
    collect()
    return {
      heapUsedMB: process.memoryUsage().heapUsed / 1024 / 1024,
      handles: process.getActiveResourcesInfo().length,
      listenersOnSharedSignal: getEventListeners(appLifetime.signal, 'abort').length,
    }
  }
  await autocannon({ url: `${address}/items`, connections: 32, amount: 5_000 })
  const before = await snapshot()
  const started = performance.now()
  const result = await autocannon({ url: `${address}/items`, connections: 32, amount: options.requests })
  const seconds = (performance.now() - started) / 1000
  const after = await snapshot()
  const stats = app.staleguard.stats()
  console.log(
    `\nsoak: ${options.requests} requests through request.fetch in ${seconds.toFixed(1)} s (${(options.requests / seconds).toFixed(0)} req/s, ${result.errors} errors, ${result.non2xx} non-2xx)`,
  )
  console.log(
    `  heap used after GC   ${before.heapUsedMB.toFixed(1)} MB → ${after.heapUsedMB.toFixed(1)} MB (${(after.heapUsedMB - before.heapUsedMB).toFixed(1)} MB)`,
  )
  console.log(`  active handles       ${before.handles} → ${after.handles}`)
  console.log(
    `  listeners on the app-lifetime signal passed to every call: ${before.listenersOnSharedSignal} → ${after.listenersOnSharedSignal}`,
  )
  console.log(
    `  upstream sockets open ${stats?.openSockets}, opened in all ${stats?.socketsOpened}, requests ${stats?.requests}`,
  )
  await app.close()
  child.disconnect()
  return { before, after }
}
