import { spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync } from 'node:fs'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'
import { type ProxyProcess, supervise } from './nginx.js'

export interface SquidOptions {
  readonly binary: string
  /** Idle time (whole seconds, squid's unit) after which squid closes a client's persistent connection. */
  readonly idleTimeoutSeconds: number
  /**
   * squid's `read_timeout` (whole seconds): how long it waits for either side of a CONNECT tunnel (or an
   * upstream's answer). Default 4: shorter cuts requests whenever a loaded test machine stalls the lab.
   */
  readonly readTimeoutSeconds?: number
  /** The address squid connects to upstreams from, so the upstream can tell proxied requests (default 127.0.0.2). */
  readonly outgoingAddress?: string
}

/** One line of squid's access log, as the lab's log format writes it. */
export interface SquidLogLine {
  readonly method: string
  /** `host:port` for CONNECT, the absolute URL otherwise. */
  readonly url: string
  readonly status: number
}

export interface SquidProcess extends ProxyProcess {
  /** The URL to give clients: `http://127.0.0.1:<port>`. */
  readonly proxyUrl: string
  /** squid's own log (warnings, errors), for failure messages. */
  cacheLog(): Promise<string>
  /** What the access log holds so far (squid writes a line when a request or tunnel ends). */
  accessLog(): Promise<SquidLogLine[]>
}

/**
 * Real squid as a forward proxy on loopback, the tests' own foreground process (`squid -N`), everything it
 * writes inside a temporary folder. Short idle timeouts on both sides (`client_idle_pconn_timeout`,
 * `pconn_timeout`), and `read_timeout`, which is what ends an idle CONNECT tunnel; CONNECT allowed to any
 * port so `http:` targets can be tunnelled as undici does by default; no caching.
 */
export async function startSquid(options: SquidOptions): Promise<SquidProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'staleguard-squid-'))
  const port = await freePort()
  const idle = `${options.idleTimeoutSeconds} seconds`
  const config = `http_port 127.0.0.1:${port}
pid_filename ${dir}/squid.pid
cache_log ${dir}/cache.log
logformat lab %rm %ru %>Hs
access_log stdio:${dir}/access.log lab
coredump_dir ${dir}
netdb_filename none
cache deny all
cache_mem 4 MB
http_access allow all
client_idle_pconn_timeout ${idle}
pconn_timeout ${idle}
read_timeout ${options.readTimeoutSeconds ?? 4} seconds
request_timeout 30 seconds
tcp_outgoing_address ${options.outgoingAddress ?? '127.0.0.2'}
forwarded_for delete
via off
visible_hostname staleguard-lab
shutdown_lifetime 0 seconds
logfile_rotate 0
workers 1
`
  const file = join(dir, 'squid.conf')
  await writeFile(file, config)
  // As root squid drops to its unprivileged user, which must be able to write the folder.
  if (typeof process.getuid === 'function' && process.getuid() === 0) chownToSquidUser(dir)
  const child = spawn(options.binary, ['-N', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  const process_ = await supervise(child, port, config, dir, () =>
    readFile(join(dir, 'cache.log'), 'utf8').catch(() => ''),
  )
  return {
    ...process_,
    proxyUrl: `http://127.0.0.1:${port}`,
    cacheLog: () => readFile(join(dir, 'cache.log'), 'utf8').catch(() => ''),
    async accessLog() {
      const text = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '')
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => {
          const [method = '', url = '', status = '0'] = line.split(' ')
          return { method, url, status: Number(status) }
        })
    },
  }
}

function chownToSquidUser(dir: string): void {
  for (const user of ['proxy', 'squid', 'nobody']) {
    const id = spawnSync('id', ['-u', user], { encoding: 'utf8' })
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' })
    if (id.status !== 0 || gid.status !== 0) continue
    if (existsSync(dir)) chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()))
    return
  }
}
