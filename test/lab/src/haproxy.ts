import { spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'
import { type ProxyProcess, supervise } from './nginx.js'

export interface HaproxyOptions {
  readonly binary: string
  readonly upstreamPort: number
  /** `timeout http-keep-alive` for client connections, in ms. */
  readonly keepAliveTimeoutMs: number
}

/** Real HAProxy in HTTP mode in front of the upstream, keep-alive on both sides. */
export async function startHaproxy(options: HaproxyOptions): Promise<ProxyProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'staleguard-haproxy-'))
  const port = await freePort()
  const config = `global
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-request 30s
  timeout http-keep-alive ${options.keepAliveTimeoutMs}ms

frontend lab
  bind 127.0.0.1:${port}
  default_backend upstream

backend upstream
  http-reuse always
  server upstream 127.0.0.1:${options.upstreamPort}
`
  const file = join(dir, 'haproxy.cfg')
  await writeFile(file, config)
  const child = spawn(options.binary, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  return supervise(child, port, config, dir, async () => '')
}
