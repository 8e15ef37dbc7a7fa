import { useUpstream } from '@staleguard/lab/vitest'
import {
  Agent,
  EnvHttpProxyAgent,
  MockAgent,
  ProxyAgent,
  fetch as undiciFetch,
  getGlobalDispatcher,
  request,
  setGlobalDispatcher,
} from 'undici'
import { beforeAll, describe, expect, it } from 'vitest'
import { createDispatcher } from '../dispatch/staleguard-dispatcher.js'
import { request as staleguardRequest } from './create-request.js'
import { installGlobalDispatcher } from './install-global-dispatcher.js'

const SLOT_V1 = Symbol.for('undici.globalDispatcher.1')
const SLOT_V2 = Symbol.for('undici.globalDispatcher.2')
const slots = globalThis as unknown as Record<symbol, unknown>

describe('installGlobalDispatcher', () => {
  const upstream = useUpstream()
  let original: { v1: unknown; v2: unknown }
  beforeAll(async () => {
    // Let Node load its bundled undici first, as an app that fetched before installing would.
    await fetch(upstream.origin + '/warm').then((r) => r.text())
    original = { v1: slots[SLOT_V1], v2: slots[SLOT_V2] }
  })

  it("routes Node's built-in fetch and npm undici's fetch and request through staleguard, and restore() undoes it", async () => {
    const installation = installGlobalDispatcher()
    const { dispatcher } = installation
    await fetch(upstream.origin + '/global/builtin').then((r) => r.text())
    await undiciFetch(upstream.origin + '/global/undici-fetch').then((r) => r.text())
    await request(upstream.origin + '/global/undici-request').then((r) => r.body.text())
    expect(dispatcher.stats().requests).toBe(3)

    await installation.restore()
    expect(slots[SLOT_V1]).toBe(original.v1)
    expect(slots[SLOT_V2] === original.v2 || (original.v2 === undefined && slots[SLOT_V2] === original.v1)).toBe(true)
    expect(dispatcher.closed).toBe(true)
    await fetch(upstream.origin + '/global/after').then((r) => r.text())
    expect(dispatcher.stats().requests).toBe(3)
  })

  it('never stacks: two installations, each request through exactly one, restored in any order', async () => {
    const first = installGlobalDispatcher()
    const second = installGlobalDispatcher({ keepAliveTimeout: 1_000 })
    for (let i = 0; i < 4; i++) await fetch(`${upstream.origin}/stack/${i}`).then((r) => r.text())
    expect(first.dispatcher.stats().requests + second.dispatcher.stats().requests).toBe(4)
    expect(second.dispatcher.stats().requests).toBe(4)

    await first.restore()
    expect(first.dispatcher.closed).toBe(true)
    expect(getGlobalDispatcher()).toBe(second.dispatcher)
    await fetch(upstream.origin + '/stack/after-first').then((r) => r.text())
    expect(second.dispatcher.stats().requests).toBe(5)

    await second.restore()
    await second.restore()
    expect(slots[SLOT_V1]).toBe(original.v1)
  })

  it('restores what each installation replaced, keeping a dispatcher someone set in between', async () => {
    const first = installGlobalDispatcher()
    const theirs = new Agent()
    setGlobalDispatcher(theirs)
    const second = installGlobalDispatcher()
    await second.restore()
    expect(getGlobalDispatcher()).toBe(theirs)
    await first.restore()
    expect(getGlobalDispatcher()).toBe(theirs)
    expect(first.dispatcher.closed).toBe(true)
    setGlobalDispatcher(original.v1 as Agent)
    await theirs.close()
  })

  it('borrows a dispatcher it is given and never closes it', async () => {
    const mine = createDispatcher()
    const installation = installGlobalDispatcher(mine)
    expect(installation.dispatcher).toBe(mine)
    await fetch(upstream.origin + '/borrowed').then((r) => r.text())
    await installation.restore()
    expect(mine.closed).toBe(false)
    expect(mine.stats().requests).toBe(1)
    await mine.close()
  })

  it('leaves a dispatcher someone else installed after it in place', async () => {
    const installation = installGlobalDispatcher()
    const theirs = new Agent()
    setGlobalDispatcher(theirs)
    await installation.restore()
    expect(getGlobalDispatcher()).toBe(theirs)
    setGlobalDispatcher(original.v1 as Agent)
    await theirs.close()
  })

  it('stands aside for a MockAgent: global fetch and the fast path stay mocked, and net connect stays off', async () => {
    const mock = new MockAgent()
    mock.disableNetConnect()
    mock.get('http://mocked.test').intercept({ path: '/a', method: 'GET' }).reply(200, 'mocked').times(2)
    setGlobalDispatcher(mock)
    try {
      const installation = installGlobalDispatcher()
      expect(installation.inPlace).toBe(false)
      expect(getGlobalDispatcher()).toBe(mock)
      expect(await fetch('http://mocked.test/a').then((r) => r.text())).toBe('mocked')
      expect(await staleguardRequest('http://mocked.test/a').then((r) => r.body.text())).toBe('mocked')
      const before = upstream.count('GET', '/not-mocked')
      await expect(fetch(upstream.origin + '/not-mocked')).rejects.toThrow()
      await expect(staleguardRequest(upstream.origin + '/not-mocked')).rejects.toThrow()
      expect(upstream.count('GET', '/not-mocked')).toBe(before)
      await installation.restore()
      expect(installation.dispatcher.closed).toBe(true)
      expect(getGlobalDispatcher()).toBe(mock)
      mock.assertNoPendingInterceptors()
    } finally {
      setGlobalDispatcher(original.v1 as Agent)
      await mock.close()
    }
  })

  it("takes an Agent's place without a warning, and warns once when a dispatcher handed to it replaces one", async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code === 'STALEGUARD_DISPATCHER_REPLACED') warnings.push(warning)
    }
    process.on('warning', onWarning)
    const theirs = new Agent()
    const mine = new Agent()
    try {
      const overNode = installGlobalDispatcher()
      await overNode.restore()
      setGlobalDispatcher(theirs)
      // Built from options: it takes the Agent's settings over, so nothing is lost and nothing is said.
      const first = installGlobalDispatcher()
      const second = installGlobalDispatcher() // over staleguard's own: nothing to say
      await second.restore()
      await first.restore()
      expect(getGlobalDispatcher()).toBe(theirs)
      // Handed a dispatcher of its own choosing, installing replaces the Agent as it is told, and says so once.
      const borrowed = installGlobalDispatcher(mine)
      await borrowed.restore()
      const again = installGlobalDispatcher(mine) // the same dispatcher replaced again: said already
      await again.restore()
      // Warnings reach listeners on the next tick.
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]!.message).toContain('(Agent)')
    } finally {
      process.off('warning', onWarning)
      setGlobalDispatcher(original.v1 as Agent)
      await theirs.close()
      await mine.close()
    }
  })

  it('takes over a proxy agent in place without a warning: its route is kept, or installing is refused', async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code === 'STALEGUARD_DISPATCHER_REPLACED') warnings.push(warning)
    }
    process.on('warning', onWarning)
    const envAgent = new EnvHttpProxyAgent({ httpProxy: 'http://127.0.0.1:9' })
    const proxyAgent = new ProxyAgent('http://127.0.0.1:9')
    try {
      setGlobalDispatcher(envAgent)
      const overEnv = installGlobalDispatcher()
      expect(overEnv.inPlace).toBe(true)
      await overEnv.restore()
      setGlobalDispatcher(proxyAgent)
      expect(() => installGlobalDispatcher()).toThrow(/ProxyAgent/)
      expect(getGlobalDispatcher()).toBe(proxyAgent)
      const withProxy = installGlobalDispatcher({ proxy: 'http://127.0.0.1:9' })
      await withProxy.restore()
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings).toHaveLength(0)
    } finally {
      process.off('warning', onWarning)
      setGlobalDispatcher(original.v1 as Agent)
      await envAgent.close()
      await proxyAgent.close()
    }
  })

  it('says whether it is still in place once someone installs over it', async () => {
    const installation = installGlobalDispatcher()
    expect(installation.inPlace).toBe(true)
    const theirs = new Agent()
    setGlobalDispatcher(theirs)
    expect(installation.inPlace).toBe(false)
    setGlobalDispatcher(installation.dispatcher)
    expect(installation.inPlace).toBe(true)
    await installation.restore()
    expect(installation.inPlace).toBe(false)
    setGlobalDispatcher(original.v1 as Agent)
    await theirs.close()
  })
})
