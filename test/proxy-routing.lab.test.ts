import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type SquidProcess, type Upstream, requireTool, startSquid, startUpstream } from '@staleguard/lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * Installing staleguard never changes where a request goes. A fresh process per proxy setup calls a proxied
 * target and a `NO_PROXY` target through every entry point (the built packages, as users load them); each
 * arrival is counted at the upstream, which sees squid's outgoing address (127.0.0.2) for proxied requests
 * and the client's own for direct ones, and proxied ones in squid's access log.
 */
const FIXTURE = fileURLToPath(new URL('./fixtures/proxy-routing.mjs', import.meta.url))
const BUILT = fileURLToPath(new URL('../packages/core/dist/index.js', import.meta.url))
const ENTRIES = ['before', 'global-fetch', 'fast-path', 'create-fetch', 'fastify', 'express', 'koa'] as const
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
/** Node 22.21+ and 24+ read the proxy environment themselves when asked to. */
const nodeReadsEnv = major >= 24 || (major === 22 && minor >= 21)

const squidBinary = requireTool('squid')

describe.skipIf(squidBinary === null)('where requests go after installing staleguard', () => {
  let squid: SquidProcess
  let proxied: Upstream
  let direct: Upstream
  beforeAll(async () => {
    squid = await startSquid({ binary: squidBinary as string, idleTimeoutSeconds: 5 })
    proxied = await startUpstream()
    direct = await startUpstream({ host: '127.0.0.3' })
  })
  afterAll(async () => {
    await squid?.close()
    await proxied?.close()
    await direct?.close()
  })

  const setups: readonly { name: string; env: Record<string, string>; args: string[]; runs: boolean }[] = [
    { name: "the app's own EnvHttpProxyAgent", env: { ROUTING_APP_AGENT: '1' }, args: [], runs: true },
    { name: 'NODE_USE_ENV_PROXY=1', env: { NODE_USE_ENV_PROXY: '1' }, args: [], runs: nodeReadsEnv },
    { name: '--use-env-proxy', env: {}, args: ['--use-env-proxy'], runs: nodeReadsEnv },
  ]

  for (const setup of setups) {
    it.runIf(setup.runs)(`${setup.name}: proxied before stays proxied, NO_PROXY stays direct`, async () => {
      if (!existsSync(BUILT)) throw new Error('the packages are not built: run `pnpm build` first')
      const loggedBefore = (await squid.accessLog()).length
      const { stdout } = await promisify(execFile)(process.execPath, [...setup.args, FIXTURE], {
        env: {
          ...process.env,
          HTTP_PROXY: squid.proxyUrl,
          HTTPS_PROXY: squid.proxyUrl,
          NO_PROXY: '127.0.0.3',
          ROUTING_PROXIED: proxied.origin,
          ROUTING_DIRECT: direct.origin,
          NODE_NO_WARNINGS: '1',
          ...setup.env,
        },
      })
      const outcomes = JSON.parse(stdout) as Record<string, unknown>
      for (const entry of ENTRIES) {
        expect(outcomes[`${entry}/proxied`], entry).toBe(200)
        expect(outcomes[`${entry}/direct`], entry).toBe(200)
        const arrivals = (upstream: Upstream, kind: string) =>
          upstream.received.filter((r) => r.path === `/route/${entry}/${kind}`).map((r) => r.remoteAddress)
        // The latest process's arrival: earlier setups sent the same paths.
        expect(arrivals(proxied, 'proxied').at(-1), `${entry} through squid`).toBe('127.0.0.2')
        expect(arrivals(direct, 'direct').at(-1), `${entry} direct`).toBe('127.0.0.1')
      }
      const logged = (await squid.accessLog()).slice(loggedBefore)
      // undici tunnels http: targets too, so squid logs one CONNECT per connection it carried, never a
      // request to the NO_PROXY target.
      expect(logged.some((line) => line.url.includes('127.0.0.3'))).toBe(false)
      expect(logged.filter((line) => line.url.includes(new URL(proxied.origin).host)).length).toBeGreaterThan(0)
    })
  }
})
