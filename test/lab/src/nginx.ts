import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitForPort } from './free-port.js'

export interface ProxyProcess {
  readonly origin: string
  readonly port: number
  /** The configuration file as written, for demos and debugging. */
  readonly config: string
  close(): Promise<void>
}

export interface NginxOptions {
  readonly binary: string
  readonly upstreamPort: number
  /** nginx `keepalive_timeout` for client connections, in ms (the widely copied configuration keeps 75 s). */
  readonly keepAliveTimeoutMs: number
}

/**
 * Real nginx in front of the upstream, with the widely copied configuration (`keepalive 64`,
 * `proxy_http_version 1.1`, `proxy_set_header Connection ""`), a short client `keepalive_timeout`, and every
 * path nginx writes kept inside a temporary prefix. Runs in the foreground, single process.
 */
export async function startNginx(options: NginxOptions): Promise<ProxyProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'staleguard-nginx-'))
  const port = await freePort()
  const config = `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout ${options.keepAliveTimeoutMs}ms;
  keepalive_requests 100000;

  upstream api_backend {
    server 127.0.0.1:${options.upstreamPort};
    keepalive 64;
  }

  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://api_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 30s;
    }
  }
}
`
  const file = join(dir, 'nginx.conf')
  await writeFile(file, config)
  const child = spawn(options.binary, ['-p', dir, '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  return supervise(child, port, config, dir, () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''))
}

/** Shared by nginx and HAProxy: wait for the port, and on close stop the process and remove its folder. */
export async function supervise(
  child: ChildProcess,
  port: number,
  config: string,
  dir: string,
  readLog: () => Promise<string>,
): Promise<ProxyProcess> {
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  let exited = false
  child.once('exit', () => (exited = true))
  try {
    await waitForPort(port, 10_000, () => !exited)
  } catch (error) {
    child.kill('SIGKILL')
    throw new Error(`${(error as Error).message}\n${stderr}\n${await readLog()}`)
  }
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    config,
    async close() {
      if (!exited) {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
