import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { median, pinToCpu, quartiles, startBenchUpstream } from './harness.js'

type Framework = 'fastify' | 'express' | 'koa'

async function startApp(framework: Framework, variant: string, upstream: string): Promise<App> {
  const child = fork(fileURLToPath(new URL('./app-server.ts', import.meta.url)), [framework, variant, upstream], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    execArgv: ['--import', 'tsx'],
  })
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer]
  // The app under test gets CPU 0 to itself; the upstream and autocannon (this process) share CPU 1.
  if (child.pid !== undefined) pinToCpu(child.pid, 0)
  return { origin: `http://127.0.0.1:${chunk.toString().trim()}`, child }
}

interface App {
  readonly origin: string
  readonly child: ChildProcess
}

async function cpuOf(app: App): Promise<number> {
  const reply = once(app.child, 'message') as Promise<[{ cpu: number }]>
  app.child.send('cpu')
  return (await reply)[0].cpu
}

/** One autocannon run against an app: requests per second, and the app's CPU µs per request. */
async function load(app: App, seconds: number): Promise<{ rate: number; cpuMicros: number }> {
  const before = await cpuOf(app)
  const result = await autocannon({ url: `${app.origin}/items`, connections: 32, duration: seconds })
  const cpu = (await cpuOf(app)) - before
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${app.origin}: ${result.errors} errors, ${result.non2xx} non-2xx responses`)
  return { rate: result.requests.average, cpuMicros: cpu / result.requests.total }
}

/**
 * For each framework, the same route calling the upstream through the scoped fetch and through bare
 * fetch with an equivalent Agent, each app in its own process, autocannon alternating between them.
 */
export async function benchFrameworks(options: { rounds: number; seconds: number; frameworks?: readonly Framework[] }): Promise<Record<Framework, { rate: number; cpu: number }>> {
  const { origin: upstream, child: upstreamProcess } = await startBenchUpstream()
  pinToCpu(process.pid, 1)
  const ratios = {} as Record<Framework, { rate: number; cpu: number }>
  for (const framework of options.frameworks ?? (['fastify', 'express', 'koa'] as const)) {
    const bare = await startApp(framework, 'bare', upstream)
    const scoped = await startApp(framework, 'staleguard', upstream)
    await load(bare, 1)
    await load(scoped, 1)
    const samples = { bare: [] as { rate: number; cpuMicros: number }[], scoped: [] as { rate: number; cpuMicros: number }[] }
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? (['bare', 'scoped'] as const) : (['scoped', 'bare'] as const)
      for (const which of order) samples[which].push(await load(which === 'bare' ? bare : scoped, options.seconds))
    }
    const rate = { bare: median(samples.bare.map((s) => s.rate)), scoped: median(samples.scoped.map((s) => s.rate)) }
    const cpu = { bare: median(samples.bare.map((s) => s.cpuMicros)), scoped: median(samples.scoped.map((s) => s.cpuMicros)) }
    // Median of the per-pair ratios: each pair ran back to back, so drift between pairs cancels out.
    const rateRatios = samples.scoped.map((s, i) => s.rate / samples.bare[i]!.rate)
    const cpuRatios = samples.scoped.map((s, i) => samples.bare[i]!.cpuMicros / s.cpuMicros)
    ratios[framework] = { rate: median(rateRatios), cpu: median(cpuRatios) }
    const accessor = framework === 'fastify' ? 'request.fetch' : framework === 'express' ? 'req.fetch' : 'ctx.fetch'
    console.log(`\n${framework}: route calling upstream  (autocannon, 32 connections, ${options.rounds} paired rounds × ${options.seconds} s)`)
    console.log(`  bare fetch + Agent   median ${rate.bare.toFixed(0).padStart(6)} req/s, app CPU ${cpu.bare.toFixed(0)} µs/request   rounds: ${samples.bare.map((v) => v.rate.toFixed(0)).join(' ')}`)
    console.log(`  ${accessor.padEnd(19)}  median ${rate.scoped.toFixed(0).padStart(6)} req/s, app CPU ${cpu.scoped.toFixed(0)} µs/request   rounds: ${samples.scoped.map((v) => v.rate.toFixed(0)).join(' ')}`)
    const [rLow, rHigh] = quartiles(rateRatios)
    const [cLow, cHigh] = quartiles(cpuRatios)
    console.log(`  ${accessor} / bare: ${ratios[framework].rate.toFixed(3)} by req/s (IQR ${rLow.toFixed(3)}–${rHigh.toFixed(3)}), ${ratios[framework].cpu.toFixed(3)} by app CPU per request (IQR ${cLow.toFixed(3)}–${cHigh.toFixed(3)})`)
    bare.child.disconnect()
    scoped.child.disconnect()
  }
  upstreamProcess.disconnect()
  return ratios
}
