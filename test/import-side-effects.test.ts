import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type TestCertificate, createTestCertificate } from '@staleguard/lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * Importing staleguard changes nothing about the process's fetch: loading npm undici would otherwise claim the
 * global dispatcher slots for its own Agent (HTTP/1.1 only) before Node's fetch first loads. Checked on the
 * built packages, as users load them, in a fresh process of the Node running the suite.
 */
const FIXTURE = fileURLToPath(new URL('./fixtures/import-side-effects.mjs', import.meta.url))
const BUILT = fileURLToPath(new URL('../packages/core/dist/index.js', import.meta.url))
const major = Number(process.versions.node.split('.')[0])

interface SlotReport {
  readonly before: { readonly v1: string; readonly v2: string }
  readonly after: { readonly v1: string; readonly v2: string }
  readonly unchangedByFetch: boolean
  readonly response: string | null
}

async function load(modules: readonly string[], env: Record<string, string> = {}): Promise<SlotReport> {
  if (!existsSync(BUILT)) throw new Error('the packages are not built: run `pnpm build` first')
  const { stdout } = await promisify(execFile)(process.execPath, [FIXTURE, ...modules], {
    env: { ...process.env, ...env },
  })
  return JSON.parse(stdout) as SlotReport
}

describe('importing staleguard', () => {
  // What Node itself puts in the slots when its fetch loads: its own dispatcher in `.1`, and in `.2` from
  // Node 24 on (Node 20 and 22 run undici 6, which knows only `.1`).
  const nodeOwn = { v1: 'node', v2: major >= 24 ? 'node' : 'empty' }

  it.each([
    ['@staleguard/core (ESM)', ['esm:@staleguard/core']],
    ['@staleguard/core (CommonJS)', ['cjs:@staleguard/core']],
    ['@staleguard/core/adapter', ['esm:@staleguard/core/adapter', 'cjs:@staleguard/core/adapter']],
    ['the adapters', ['esm:@staleguard/fastify', 'cjs:@staleguard/express', 'esm:@staleguard/koa']],
  ])('%s leaves the slots to Node, with no dispatcher of npm undici', async (_name, modules) => {
    const report = await load(modules)
    expect(report.before).toEqual({ v1: 'empty', v2: 'empty' })
    expect(report.after).toEqual(nodeOwn)
    expect(report.unchangedByFetch).toBe(true)
  })

  it('sees npm undici take the slots when it is loaded alone (the check can fail)', async () => {
    const report = await load(['esm:undici'])
    expect(report.after).toEqual({ v1: 'npm undici', v2: 'npm undici' })
  })

  describe.runIf(major >= 26)('on Node 26, whose fetch negotiates HTTP/2', () => {
    let certificate: TestCertificate
    let server: http2.Http2SecureServer
    let url: string
    const versions: string[] = []
    beforeAll(async () => {
      certificate = createTestCertificate()
      // HTTP/2 only: a client that cannot negotiate it fails the TLS handshake.
      server = http2.createSecureServer({ key: certificate.key, cert: certificate.cert, allowHTTP1: false })
      server.on('request', (request, response) => {
        versions.push(request.httpVersion)
        response.end('h2')
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`
    })
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve))
      certificate.remove()
    })

    it('Node fetch still reaches an h2-only server after the import', async () => {
      const env = { NODE_EXTRA_CA_CERTS: certificate.certPath, STALEGUARD_PROBE_URL: url }
      expect((await load(['esm:@staleguard/core'], env)).response).toBe('h2')
      expect(
        (await load(['cjs:@staleguard/fastify', 'esm:@staleguard/express', 'esm:@staleguard/koa'], env)).response,
      ).toBe('h2')
      expect(versions).toEqual(['2.0', '2.0'])
      // Loading npm undici alone is what broke it.
      expect((await load(['esm:undici'], env)).response).toMatch(/^failed/)
    })
  })
})
