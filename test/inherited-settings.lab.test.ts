import { lookup as dnsLookup } from 'node:dns'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type StaleguardOptions, getStaleguardDiagnostics, installGlobalDispatcher } from '@staleguard/core'
import { createTestPki, requireTool, startSquid, startUpstream } from '@staleguard/lab'
import { useUpstream } from '@staleguard/lab/vitest'
import {
  Agent,
  type Dispatcher,
  EnvHttpProxyAgent,
  Pool,
  RetryAgent,
  getGlobalDispatcher,
  interceptors,
  request,
  setGlobalDispatcher,
} from 'undici'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

/**
 * Installing staleguard over an app's own dispatcher keeps what that dispatcher was set up with: each test
 * shows a setting's effect through Node's global fetch after `installGlobalDispatcher()`, checks that the
 * request went through staleguard, and shows the same install with `inherit: false` losing it.
 */

type LookupCallback = (error: NodeJS.ErrnoException | null, address: unknown, family?: number) => void

/** Service discovery as apps write it: `svc.internal` is the lab's upstream, every other name goes to DNS. */
function discovery(address = '127.0.0.1') {
  const asked: string[] = []
  const lookup = (hostname: string, options: { all?: boolean }, callback: LookupCallback) => {
    asked.push(hostname)
    if (hostname !== 'svc.internal') return dnsLookup(hostname, options as never, callback as never)
    if (options.all) callback(null, [{ address, family: 4 }])
    else callback(null, address, 4)
  }
  return { lookup, asked }
}

const text = (url: string, init?: RequestInit) => fetch(url, init).then((response) => response.text())

/** Installs over the dispatcher in place, runs `body`, and always restores. */
async function installedOver<T>(
  options: StaleguardOptions | undefined,
  body: (stats: () => { requests: number }) => Promise<T>,
): Promise<T> {
  const installation = installGlobalDispatcher(options)
  try {
    return await body(() => installation.dispatcher.stats())
  } finally {
    await installation.restore()
  }
}

describe("installing over the app's own dispatcher keeps its settings", () => {
  const upstream = useUpstream()
  let runtimeDefault: Dispatcher
  beforeAll(async () => {
    // Node's fetch loaded, its own dispatcher in place: what every test puts back.
    await text(`${upstream.origin}/warm`)
    runtimeDefault = getGlobalDispatcher()
  })
  afterEach(() => setGlobalDispatcher(runtimeDefault))

  it('a custom lookup: `svc.internal` still reaches the upstream', async () => {
    const { lookup, asked } = discovery()
    const agent = new Agent({ connect: { lookup } as never })
    setGlobalDispatcher(agent)
    const url = `http://svc.internal:${upstream.port}/inherit/lookup`
    expect(JSON.parse(await text(url)).ok).toBe(true)
    await installedOver(undefined, async (stats) => {
      expect(JSON.parse(await text(url)).ok).toBe(true)
      expect(stats().requests).toBe(1)
    })
    expect(asked.filter((name) => name === 'svc.internal').length).toBeGreaterThanOrEqual(2)
    await installedOver({ inherit: false }, async () => {
      const error = await fetch(url).catch((e: unknown) => e)
      expect(['ENOTFOUND', 'EAI_AGAIN']).toContain((error as { cause?: { code?: string } }).cause?.code)
    })
    await agent.close()
  })

  it('mTLS: the upstream accepts the client certificate only when it is inherited', async () => {
    const pki = createTestPki()
    const secure = await startUpstream({ tls: { ...pki.server, ca: pki.ca } })
    const agent = new Agent({ connect: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key } })
    setGlobalDispatcher(agent)
    try {
      const url = `${secure.origin}/inherit/mtls`
      expect(JSON.parse(await text(url)).ok).toBe(true)
      await installedOver(undefined, async (stats) => {
        expect(JSON.parse(await text(url)).ok).toBe(true)
        expect(stats().requests).toBe(1)
      })
      // staleguard's own `connect` merges over the inherited one, key by key: the certificate stays.
      await installedOver({ connect: { servername: 'localhost' } }, async (stats) => {
        expect(JSON.parse(await text(url)).ok).toBe(true)
        expect(stats().requests).toBe(1)
      })
      await installedOver({ inherit: false }, async () => {
        const error = await fetch(url).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(TypeError)
      })
      // Without the client certificate (the CA alone), the upstream refuses the handshake.
      await installedOver({ inherit: false, connect: { ca: pki.ca } }, async () => {
        await expect(fetch(url)).rejects.toThrow()
      })
      expect(secure.count('GET', '/inherit/mtls')).toBe(3)
    } finally {
      await agent.close()
      await secure.close()
      pki.remove()
    }
  })

  it('a unix socket: the upstream behind it answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'staleguard-unix-'))
    const socketPath = join(dir, 'upstream.sock')
    const local = await startUpstream({ socketPath })
    const agent = new Agent({ connect: { socketPath } })
    setGlobalDispatcher(agent)
    try {
      await installedOver(undefined, async (stats) => {
        expect(JSON.parse(await text('http://localhost/inherit/unix')).ok).toBe(true)
        expect(stats().requests).toBe(1)
      })
      expect(local.count('GET', '/inherit/unix')).toBe(1)
      await installedOver({ inherit: false }, async () => {
        // localhost:80 has nothing listening here.
        await expect(fetch('http://localhost/inherit/unix')).rejects.toThrow()
      })
      expect(local.count('GET', '/inherit/unix')).toBe(1)
    } finally {
      await agent.close()
      await local.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a `connections: 2` cap holds at the upstream under 20 parallel requests', async () => {
    const agent = new Agent({ connections: 2 })
    setGlobalDispatcher(agent)
    const burst = () => Promise.all(Array.from({ length: 20 }, (_, i) => text(`${upstream.origin}/slow?ms=30&i=${i}`)))
    const opened = async (run: () => Promise<unknown>) => {
      const before = upstream.connections
      await run()
      return upstream.connections - before
    }
    await installedOver(undefined, async (stats) => {
      expect(await opened(burst)).toBe(2)
      expect(stats().requests).toBe(20)
    })
    await installedOver({ inherit: false }, async () => {
      expect(await opened(burst)).toBeGreaterThan(2)
    })
    // staleguard's own option wins over the inherited one.
    await installedOver({ connections: 4 }, async () => {
      expect(await opened(burst)).toBe(4)
    })
    await agent.close()
  })

  it('connection options it has no option for: `maxResponseSize`, `headersTimeout`', async () => {
    const agent = new Agent({ maxResponseSize: 100, headersTimeout: 200 })
    setGlobalDispatcher(agent)
    await installedOver(undefined, async () => {
      const big = await fetch(`${upstream.origin}/big?bytes=1000`)
        .then((r) => r.text())
        .catch((e: unknown) => e)
      expect(big).toBeInstanceOf(TypeError)
      expect(JSON.stringify(getCauseCodes(big))).toContain('UND_ERR_RES_EXCEEDED_MAX_SIZE')
      const slow = await fetch(`${upstream.origin}/slow?ms=1000`).catch((e: unknown) => e)
      expect(getCauseCodes(slow)).toContain('UND_ERR_HEADERS_TIMEOUT')
      expect(getStaleguardDiagnostics(slow)?.retryDecision).toBe('not-stale')
    })
    await installedOver({ inherit: false }, async () => {
      expect((await text(`${upstream.origin}/big?bytes=1000`)).length).toBe(1000)
    })
    await agent.close()
  })

  it('interceptors composed on the Agent stay in front, in their order, for fetch and undici.request', async () => {
    const { lookup } = discovery()
    const seen: string[] = []
    const tag =
      (name: string): Dispatcher.DispatcherComposeInterceptor =>
      (dispatch) =>
      (options, handler) => {
        seen.push(name)
        return dispatch(options, handler)
      }
    const composed = new Agent({ connect: { lookup } as never }).compose(
      tag('outer'),
      interceptors.redirect({ maxRedirections: 2 }),
      tag('inner'),
    )
    setGlobalDispatcher(composed)
    const origin = `http://svc.internal:${upstream.port}`
    await installedOver(undefined, async (stats) => {
      expect(JSON.parse(await text(`${origin}/inherit/chain`)).ok).toBe(true)
      // The redirect interceptor follows the 302 itself, through staleguard both times.
      const { statusCode, body } = await request(`${origin}/redirect?to=/inherit/redirected`)
      await body.text()
      expect(statusCode).toBe(200)
      expect(stats().requests).toBe(3)
      // compose() makes the last interceptor the outermost; the redirect sends its second hop below itself.
      expect(seen).toEqual(['inner', 'outer', 'inner', 'outer', 'outer'])
    })
    expect(upstream.count('GET', '/inherit/redirected')).toBe(1)
    // Restored: the app's chain ends in its own Agent again.
    expect(JSON.parse(await text(`${origin}/inherit/after`)).ok).toBe(true)
    await composed.close()
  })

  it('refuses to replace a dispatcher whose settings it cannot read, and says what to pass', async () => {
    const retrying = new RetryAgent(new Agent())
    const customFactory = new Agent({ factory: (origin, options) => new Pool(origin, options) })
    const pool = new Pool(upstream.origin)
    try {
      for (const [dispatcher, name] of [
        [retrying, 'RetryAgent'],
        [customFactory, 'Agent'],
        [pool, 'Pool'],
      ] as const) {
        setGlobalDispatcher(dispatcher)
        expect(() => installGlobalDispatcher()).toThrow(
          new RegExp(`option \`inherit\` must be set to false .*an undici ${name}.*inherit: false`),
        )
        expect(getGlobalDispatcher()).toBe(dispatcher)
        await installedOver({ inherit: false }, async (stats) => {
          expect(JSON.parse(await text(`${upstream.origin}/inherit/refused`)).ok).toBe(true)
          expect(stats().requests).toBe(1)
        })
      }
    } finally {
      setGlobalDispatcher(runtimeDefault)
      await Promise.all([retrying.close(), customFactory.close(), pool.close()])
    }
  })
})

const undici8 = await import('undici8').catch(() => null)

describe.skipIf(undici8 === null)("beside the app's own npm undici 8", () => {
  const upstream = useUpstream()
  let runtimeDefault: Dispatcher
  beforeAll(async () => {
    await text(`${upstream.origin}/warm`)
    runtimeDefault = getGlobalDispatcher()
  })
  afterEach(() => setGlobalDispatcher(runtimeDefault))

  it("keeps an undici 8 Agent's lookup and cap, and its interceptors, for fetch and undici 8's own request", async () => {
    const {
      Agent: Agent8,
      interceptors: interceptors8,
      request: request8,
      setGlobalDispatcher: setGlobal8,
    } = undici8 as typeof import('undici8')
    const { lookup } = discovery()
    let seen = 0
    const theirs = new Agent8({ connect: { lookup } as never, connections: 2 }).compose(
      interceptors8.redirect({ maxRedirections: 2 }),
      (dispatch) => (options, handler) => {
        seen++
        return dispatch(options, handler)
      },
    )
    // undici 8 keeps it in the `.2` slot and a wrapper in `.1`, which Node 22 and 24's fetch reads.
    setGlobal8(theirs)
    const origin = `http://svc.internal:${upstream.port}`
    const before = upstream.connections
    try {
      await installedOver(undefined, async (stats) => {
        expect(JSON.parse(await text(`${origin}/inherit/undici8/fetch`)).ok).toBe(true)
        const { statusCode, body } = await request8(`${origin}/redirect?to=/inherit/undici8/redirected`)
        await body.text()
        expect(statusCode).toBe(200)
        await Promise.all(Array.from({ length: 10 }, (_, i) => text(`${origin}/slow?ms=30&undici8=${i}`)))
        expect(stats().requests).toBe(13)
      })
      expect(seen).toBe(12)
      expect(upstream.connections - before).toBeLessThanOrEqual(2)
      expect(upstream.count('GET', '/inherit/undici8/redirected')).toBe(1)
    } finally {
      setGlobalDispatcher(runtimeDefault)
      await theirs.close()
    }
  })
})

const squidBinary = requireTool('squid')

describe.skipIf(squidBinary === null)("an EnvHttpProxyAgent's own proxy and noProxy", () => {
  const upstream = useUpstream()
  const direct = useUpstream()
  beforeAll(() => text(`${upstream.origin}/warm`))

  it('keeps every request on the proxy it was built with, and direct what its noProxy says', async () => {
    const squid = await startSquid({ binary: squidBinary as string, idleTimeoutSeconds: 5 })
    const runtimeDefault = getGlobalDispatcher()
    // The environment says nothing: only the agent's own settings can send requests through squid.
    const agent = new EnvHttpProxyAgent({ httpProxy: squid.proxyUrl, noProxy: `127.0.0.1:${direct.port}` })
    setGlobalDispatcher(agent)
    const send = async (tag: string) => {
      for (let i = 0; i < 6; i++) {
        await text(`${upstream.origin}/env-agent/${tag}`)
        await text(`${direct.origin}/env-agent/${tag}`)
      }
    }
    try {
      await send('before')
      await installedOver(undefined, async (stats) => {
        await send('installed')
        expect(stats().requests).toBe(12)
      })
      const proxied = (origin: typeof upstream, tag: string) =>
        origin.received.filter((r) => r.path === `/env-agent/${tag}` && r.remoteAddress === '127.0.0.2').length
      for (const tag of ['before', 'installed']) {
        expect(proxied(upstream, tag), tag).toBe(6)
        expect(direct.count('GET', `/env-agent/${tag}`), tag).toBe(6)
        expect(proxied(direct, tag), tag).toBe(0)
      }
      await installedOver({ inherit: false }, async () => send('not-inherited'))
      expect(proxied(upstream, 'not-inherited')).toBe(0)
    } finally {
      setGlobalDispatcher(runtimeDefault)
      await agent.close()
      await squid.close()
    }
  })
})

/** The codes down an error's cause chain. */
function getCauseCodes(error: unknown): string[] {
  const codes: string[] = []
  for (let e = error as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.code === 'string') codes.push(e.code)
  }
  return codes
}
