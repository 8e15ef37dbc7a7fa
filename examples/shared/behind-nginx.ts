import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findTool, freePort, waitForPort } from '@staleguard/lab'

export interface ExampleUpstream {
  /** Where the app should send its requests: nginx, or the upstream itself when nginx is not installed. */
  readonly origin: string
  readonly viaNginx: boolean
  close(): Promise<void>
}

/**
 * The examples' backend: a small JSON API on loopback, with nginx (`examples/nginx.conf`, the widely copied
 * configuration) in front of it when nginx is installed.
 */
export async function startUpstreamBehindNginx(): Promise<ExampleUpstream> {
  let served = 0
  const api = http.createServer((req, res) => {
    served++
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ path: req.url, servedByUpstream: served, requestId: req.headers['x-request-id'] ?? null }))
  })
  api.keepAliveTimeout = 65_000
  api.listen(0, '127.0.0.1')
  await once(api, 'listening')
  const upstreamPort = (api.address() as AddressInfo).port
  const closeApi = async () => {
    api.closeAllConnections()
    api.close()
    await once(api, 'close')
  }

  const nginx = findTool('nginx')
  if (nginx === null) {
    console.warn(
      'nginx is not installed: calling the upstream directly (apt-get install nginx-light to see the real path)',
    )
    return { origin: `http://127.0.0.1:${upstreamPort}`, viaNginx: false, close: closeApi }
  }
  const prefix = await mkdtemp(join(tmpdir(), 'staleguard-example-nginx-'))
  const listenPort = await freePort()
  const template = await readFile(new URL('../nginx.conf', import.meta.url), 'utf8')
  const config = template
    .replaceAll('{{PREFIX}}', prefix)
    .replaceAll('{{LISTEN_PORT}}', String(listenPort))
    .replaceAll('{{UPSTREAM_PORT}}', String(upstreamPort))
  await writeFile(join(prefix, 'nginx.conf'), config)
  const child = spawn(nginx, ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'inherit' })
  let exited = false
  child.once('exit', () => (exited = true))
  await waitForPort(listenPort, 10_000, () => !exited)
  return {
    origin: `http://127.0.0.1:${listenPort}`,
    viaNginx: true,
    async close() {
      if (!exited) {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
      await rm(prefix, { recursive: true, force: true })
      await closeApi()
    },
  }
}

/** Closes everything on Ctrl-C, then lets the process end by itself. */
export function closeOnSignal(close: () => Promise<void>): void {
  const stop = () => {
    console.log('\nclosing…')
    close().catch((error: unknown) => {
      console.error(error)
      process.exitCode = 1
    })
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
