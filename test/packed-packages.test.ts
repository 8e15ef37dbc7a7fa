import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * The packages as a user gets them: `pnpm pack` tarballs (the `workspace:` ranges rewritten to versions),
 * installed with npm into apps outside the repository, each written from its package's README alone
 * (test/fixtures/packed-apps): Express in CommonJS, Fastify in strict TypeScript (ESM, `nodenext`), Koa in
 * ESM. Each app runs on the Node running the suite and calls an upstream this test starts through its
 * request-scoped fetch; and the installed CLI answers `npx staleguard --version`. Needs the build
 * (scripts/test.mjs runs it first) and the npm registry for the frameworks (npm's cache makes reruns fast).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const FIXTURES = fileURLToPath(new URL('./fixtures/packed-apps/', import.meta.url))
const TIMEOUT = 240_000
const { version } = JSON.parse(readFileSync(join(ROOT, 'packages', 'core', 'package.json'), 'utf8')) as {
  version: string
}

/** The package folders packed, and the tarball name `pnpm pack` gives each (`@scope/name` → `scope-name`). */
const PACKAGES = ['core', 'fastify', 'express', 'koa', 'staleguard'] as const
type PackageDir = (typeof PACKAGES)[number]
function tarballName(dir: PackageDir): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as {
    name: string
    version: string
  }
  return `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.version}.tgz`
}

/** The files a package.json names: every string under `exports`, and the bins. */
function shippedFiles(dir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports?: unknown; bin?: unknown }
  const strings = (value: unknown): string[] =>
    typeof value === 'string'
      ? [value]
      : typeof value === 'object' && value !== null
        ? Object.values(value).flatMap(strings)
        : []
  return [...strings(pkg.exports), ...strings(pkg.bin)]
}

interface AppSpec {
  /** Folder under test/fixtures/packed-apps, copied as is. */
  readonly fixture: string
  readonly type: 'module' | 'commonjs'
  readonly tarballs: readonly PackageDir[]
  /** From the registry, as the README's install line says. */
  readonly registry: readonly string[]
}

const APPS = {
  express: {
    fixture: 'express-cjs',
    type: 'commonjs',
    tarballs: ['core', 'express'],
    registry: ['express@5', 'axios@1'],
  },
  fastify: {
    fixture: 'fastify-ts',
    type: 'module',
    tarballs: ['core', 'fastify'],
    registry: ['fastify@5', '@types/node'],
  },
  // The CLI's own package goes in one app: its bin and core's are both `staleguard`, running the same CLI.
  koa: { fixture: 'koa-esm', type: 'module', tarballs: ['core', 'koa', 'staleguard'], registry: ['koa@3'] },
} as const satisfies Record<string, AppSpec>
type AppName = keyof typeof APPS

/** Where npm fetches from and caches, when set in the environment: kept. */
const KEEP = new Set(['npm_config_registry', 'npm_config_cafile', 'npm_config_cache', 'npm_config_userconfig'])

/**
 * A user's shell: the Node running the suite first on PATH (npm, npx and every `#!/usr/bin/env node` bin run
 * on it; the PATH npm runs on any of the majors), and nothing of pnpm's, vitest's or NODE_OPTIONS / NODE_PATH.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue
    // npm exec and pnpm pass their whole config down (`npm_config_local_prefix` would install into the repo).
    if (/^(npm_|pnpm_|vitest|node_options$|node_path$|node_env$|init_cwd$)/i.test(key) && !KEEP.has(key)) continue
    env[key] = value
  }
  env.PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`
  return { ...env, npm_config_update_notifier: 'false', ...extra }
}

/** Runs a command to completion within `timeout` ms; a failure says what it printed. */
function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
  timeout = 120_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: userEnv(env), timeout, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout)
        else
          reject(new Error(`\`${command} ${args.join(' ')}\` in ${cwd} failed: ${error.message}\n${stdout}\n${stderr}`))
      },
    )
  })
}

const children = new Set<ChildProcess>()
const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null

interface RunningApp {
  readonly origin: string
  /** SIGTERM, as a deployment stops it: the README's shutdown lets the process exit by itself. */
  stop(): Promise<void>
}

/** Starts `node <args>` in `cwd` and waits for its `listening on <origin>` line. */
async function startApp(cwd: string, args: readonly string[], upstream: string): Promise<RunningApp> {
  const child = spawn(process.execPath, args, {
    cwd,
    env: userEnv({ UPSTREAM_URL: upstream }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const output = () => `\nstdout: ${stdout}\nstderr: ${stderr}`

  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`\`node ${args.join(' ')}\` did not start listening within 20 s${output()}`))
    }, 20_000)
    const onData = () => {
      const match = /listening on (http:\/\/\S+)/.exec(stdout)
      if (match === null) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      resolve(match[1]!)
    }
    child.stdout!.on('data', onData)
    void exited.then(([code, signal]) => {
      clearTimeout(timer)
      reject(new Error(`\`node ${args.join(' ')}\` exited (${code ?? signal}) before listening${output()}`))
    })
  })

  return {
    origin,
    async stop() {
      if (!running(child)) throw new Error(`the app exited while it should be serving${output()}`)
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      const [code, signal] = await exited
      clearTimeout(timer)
      if (code !== 0) throw new Error(`the app did not exit cleanly on SIGTERM (${code ?? signal})${output()}`)
    },
  }
}

/** A request the upstream received. */
interface Received {
  readonly url: string | undefined
  readonly headers: http.IncomingHttpHeaders
}

describe('the packed packages, installed with npm in apps outside the repository', () => {
  let tmp: string
  let upstream: http.Server
  let upstreamOrigin: string
  const received: Received[] = []
  const appDir = (name: AppName) => join(tmp, APPS[name].fixture)

  beforeAll(async () => {
    for (const dir of PACKAGES) {
      if (dir !== 'staleguard' && !existsSync(join(ROOT, 'packages', dir, 'dist', 'index.js')))
        throw new Error(`packages/${dir}/dist is missing: run \`npx -y pnpm@10 build\` first (scripts/test.mjs does)`)
    }
    tmp = await mkdtemp(join(tmpdir(), 'staleguard-packed-'))
    // Outside the repository, so nothing resolves from its node_modules.
    if (!relative(ROOT, tmp).startsWith('..')) throw new Error(`${tmp} is inside the repository`)

    upstream = http.createServer((req, res) => {
      received.push({ url: req.url, headers: req.headers })
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ path: req.url, requestId: req.headers['x-request-id'] ?? null }))
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    upstreamOrigin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`

    const tarballs = join(tmp, 'tarballs')
    await mkdir(tarballs)
    await Promise.all(
      PACKAGES.map((dir) =>
        run('npx', ['-y', 'pnpm@10', 'pack', '--pack-destination', tarballs], join(ROOT, 'packages', dir)),
      ),
    )
    for (const dir of PACKAGES) {
      if (!existsSync(join(tarballs, tarballName(dir))))
        throw new Error(`pnpm pack wrote no ${tarballName(dir)} in ${tarballs}`)
    }

    await Promise.all(
      (Object.keys(APPS) as AppName[]).map(async (name) => {
        const app: AppSpec = APPS[name]
        const dir = appDir(name)
        await cp(join(FIXTURES, app.fixture), dir, { recursive: true })
        await writeFile(
          join(dir, 'package.json'),
          JSON.stringify({ name: `packed-${name}`, private: true, type: app.type }),
        )
        const specs = app.tarballs.map((pkg) => join(tarballs, tarballName(pkg)))
        await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...specs, ...app.registry], dir)
      }),
    )
  }, TIMEOUT)

  afterAll(async () => {
    for (const child of children) if (running(child)) child.kill('SIGKILL')
    if (upstream !== undefined) {
      upstream.closeAllConnections()
      await new Promise((resolve) => upstream.close(resolve))
    }
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
  })

  it.each(Object.keys(APPS) as AppName[])(
    '%s: each staleguard package, core included, is the tarball, its workspace ranges now versions',
    async (name) => {
      const lock = JSON.parse(await readFile(join(appDir(name), 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { version?: string; resolved?: string; dependencies?: Record<string, string> }>
      }
      const ours = Object.entries(lock.packages).filter(([path]) => /(^|\/)(@staleguard\/[^/]+|staleguard)$/.test(path))
      // One copy of each, at the top, from its tarball: npm took none from the registry or nested a second core.
      const expected = Object.fromEntries(
        APPS[name].tarballs.map((dir) => [
          dir === 'staleguard' ? 'node_modules/staleguard' : `node_modules/@staleguard/${dir}`,
          `file:../tarballs/${tarballName(dir)}`,
        ]),
      )
      expect(Object.fromEntries(ours.map(([path, entry]) => [path, entry.resolved]))).toEqual(expected)
      for (const [path, entry] of ours) {
        expect(entry.version, path).toBe(version)
        for (const range of Object.values(entry.dependencies ?? {})) expect(range, path).not.toMatch(/^workspace:/)
        // Every file its exports and bins name was packed (a build running beside the pack leaves some out).
        const missing = shippedFiles(join(appDir(name), path)).filter(
          (file) => !existsSync(join(appDir(name), path, file)),
        )
        expect(missing, `${path}: files its package.json names are not in the tarball`).toEqual([])
      }
    },
  )

  it(
    'Express, CommonJS: req.fetch reaches the upstream with the incoming x-request-id, and axios goes through the installed agent',
    async () => {
      await expectAppServes('express', ['app.cjs'], async (origin) => {
        // httpAgents: true put staleguard's agent in http.globalAgent, which axios takes.
        const response = await fetch(`${origin}/axios/items/7`)
        expect(await response.json()).toMatchObject({
          agent: 'StaleguardHttpAgent',
          upstream: { path: '/items/7' },
        })
      })
    },
    TIMEOUT,
  )

  // The repository's TypeScript, on the app's own tsconfig.json and node_modules. No skipLibCheck: the .d.ts
  // files the packages ship are checked as well, as every user's strict build that does not skip them does.
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

  it(
    'Fastify, strict TypeScript (ESM, nodenext): the app and the types it imports type-check',
    async () => {
      await run(process.execPath, [tsc, '--noEmit', '-p', appDir('fastify')], appDir('fastify'))
    },
    TIMEOUT,
  )

  it(
    'Fastify, TypeScript run as such: request.fetch reaches the upstream with the incoming x-request-id',
    async () => {
      const dir = appDir('fastify')
      // Node's type stripping where it has it (22.18+); Node 20 runs what tsc emits (the check is the test above).
      const features: Record<string, unknown> = { ...process.features }
      if (features.typescript) await expectAppServes('fastify', ['app.ts'])
      else {
        await run(process.execPath, [tsc, '--noCheck', '-p', dir], dir)
        await expectAppServes('fastify', [join('dist', 'app.js')])
      }
    },
    TIMEOUT,
  )

  it(
    'Koa, ESM: ctx.fetch reaches the upstream with the incoming x-request-id',
    async () => {
      await expectAppServes('koa', ['app.mjs'])
    },
    TIMEOUT,
  )

  it(
    '`npx staleguard --version` runs the installed CLI and prints the version',
    async () => {
      const dir = appDir('koa')
      // The README's command; `yes=false`: never a `staleguard` from the registry if the installed one is missing.
      expect((await run('npx', ['staleguard', '--version'], dir, { npm_config_yes: 'false' })).trim()).toBe(version)
      // The `staleguard` package's own bin (npx may have linked core's, which runs the same CLI).
      const bin = join(dir, 'node_modules', 'staleguard', 'bin', 'staleguard.js')
      expect((await run(process.execPath, [bin, '--version'], dir)).trim()).toBe(version)
    },
    TIMEOUT,
  )

  async function expectAppServes(
    name: AppName,
    args: readonly string[],
    more?: (origin: string) => Promise<void>,
  ): Promise<void> {
    const app = await startApp(appDir(name), args, upstreamOrigin)
    try {
      const requestId = `packed-${name}-${process.pid}`
      const response = await fetch(`${app.origin}/items/42`, {
        headers: { 'x-request-id': requestId, cookie: 'session=secret' },
      })
      const body = (await response.json()) as Record<string, unknown>
      expect(response.status).toBe(200)
      expect(body).toMatchObject({ framework: name, upstream: { path: '/items/42', requestId } })
      const seen = received.find((r) => r.headers['x-request-id'] === requestId)
      expect(seen?.url).toBe('/items/42')
      // Only the request id (and trace headers) go upstream: never the incoming cookie.
      expect(seen?.headers.cookie).toBeUndefined()
      await more?.(app.origin)
    } finally {
      await app.stop()
    }
  }
})
