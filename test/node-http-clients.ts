import http from 'node:http'
import { Readable } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import type { LabClient, LabRequest } from '@staleguard/lab'
import axios from 'axios'
import got from 'got'
import nodeFetch from 'node-fetch'
import { retryStaleSockets as retryAxiosStaleSockets } from '@staleguard/core/axios'
import { retryStaleSockets as retryGotStaleSockets } from '@staleguard/core/got'

// The SDK warns once on Node 20 that its releases of 2027 will need Node 22: not the lab's concern.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

/**
 * The node:http clients the lab runs over an `http.Agent` (a staleguard agent, or Node's own for the
 * baseline): each built on the agent it is given, which it owns (its `close()` destroys it).
 * - `http.request`: node:http itself;
 * - `axios` / `got`: as they come (got with `retry: { limit: 0 }`: its own retry waits a second and more, and
 *   is not what the agent alone is measured by), and with staleguard's integration (`retryStaleSockets`);
 * - `node-fetch`: v2, `{ agent }`;
 * - `S3Client`: AWS SDK v3 over `NodeHttpHandler({ httpAgent })`, a GET as GetObject and a PUT as PutObject, the
 *   URL's path as bucket and key (`/w/run/3` is bucket `w`, key `run/3`: the path the upstream counts is the
 *   same); its own retry (3 attempts) stays on.
 */
export type NodeHttpClientKind =
  | 'http.request'
  | 'axios'
  | 'axios + retryStaleSockets'
  | 'got'
  | 'got + retryStaleSockets'
  | 'node-fetch'
  | 'S3Client'

export function nodeHttpClient(kind: NodeHttpClientKind, agent: http.Agent): LabClient {
  switch (kind) {
    case 'http.request':
      return httpRequestClient(agent)
    case 'axios':
    case 'axios + retryStaleSockets':
      return axiosClient(agent, { retryStaleSockets: kind !== 'axios' })
    case 'got':
    case 'got + retryStaleSockets':
      return gotClient(agent, { retryStaleSockets: kind !== 'got' })
    case 'node-fetch':
      return nodeFetchClient(agent)
    case 'S3Client':
      return s3Client(agent)
  }
}

/** `http.request(url, { agent })`, the body written whole (or piped, a web stream). */
export function httpRequestClient(agent: http.Agent): LabClient {
  return {
    name: 'http.request',
    send: (url, request = {}) =>
      new Promise<string>((resolve, reject) => {
        const req = http.request(
          url,
          {
            method: request.method ?? 'GET',
            agent,
            ...(request.headers === undefined ? {} : { headers: request.headers }),
            ...(request.signal === undefined ? {} : { signal: request.signal }),
          },
          (res) => {
            const chunks: Buffer[] = []
            res.on('data', (chunk: Buffer) => chunks.push(chunk))
            res.on('error', reject)
            res.on('close', () => {
              if (!res.complete) reject(Object.assign(new Error('response cut short'), { code: 'ECONNRESET' }))
            })
            res.on('end', () => {
              const status = res.statusCode ?? 0
              if (status < 200 || status > 299) reject(httpStatusError(status))
              else resolve(Buffer.concat(chunks).toString('utf8'))
            })
          },
        )
        req.on('error', reject)
        if (request.body === undefined || typeof request.body === 'string') req.end(request.body)
        else Readable.fromWeb(request.body as NodeReadableStream).pipe(req)
      }),
    close: async () => agent.destroy(),
  }
}

/** An `axios.create({ httpAgent })` instance; with `retryStaleSockets`, staleguard's interceptor on it. */
export function axiosClient(agent: http.Agent, options: { retryStaleSockets: boolean }): LabClient {
  // `proxy: false`: an HTTP_PROXY of the environment must not take the requests elsewhere.
  const instance = axios.create({ httpAgent: agent, proxy: false, responseType: 'text' })
  if (options.retryStaleSockets) retryAxiosStaleSockets(instance)
  return {
    name: options.retryStaleSockets ? 'axios + retryStaleSockets' : 'axios',
    send: async (url, request = {}) => {
      const response = await instance.request<string>({
        url,
        method: request.method ?? 'GET',
        ...(request.body === undefined ? {} : { data: request.body }),
        ...(request.headers === undefined ? {} : { headers: request.headers }),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      })
      return String(response.data)
    },
    close: async () => agent.destroy(),
  }
}

/** `got.extend({ agent: { http } })`; with `retryStaleSockets`, staleguard's options, else got's retry off. */
export function gotClient(agent: http.Agent, options: { retryStaleSockets: boolean }): LabClient {
  const client = options.retryStaleSockets
    ? got.extend({ agent: { http: agent } }, retryGotStaleSockets())
    : got.extend({ agent: { http: agent }, retry: { limit: 0 } })
  return {
    name: options.retryStaleSockets ? 'got + retryStaleSockets' : 'got',
    send: (url, request = {}) =>
      client(url, {
        method: (request.method ?? 'GET') as 'GET',
        ...(request.body === undefined ? {} : { body: gotBody(request.body) }),
        ...(request.headers === undefined ? {} : { headers: request.headers }),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      }).text(),
    close: async () => agent.destroy(),
  }
}

function gotBody(body: NonNullable<LabRequest['body']>): string | Readable {
  return typeof body === 'string' ? body : Readable.fromWeb(body as NodeReadableStream)
}

/** node-fetch v2 with `{ agent }`. */
export function nodeFetchClient(agent: http.Agent): LabClient {
  return {
    name: 'node-fetch',
    send: async (url, request = {}) => {
      if (request.body !== undefined && typeof request.body !== 'string')
        throw new Error('the node-fetch lab client sends string bodies only')
      const response = await nodeFetch(url, {
        method: request.method ?? 'GET',
        agent,
        ...(request.body === undefined ? {} : { body: request.body }),
        ...(request.headers === undefined ? {} : { headers: request.headers }),
      })
      const text = await response.text()
      if (!response.ok) throw httpStatusError(response.status)
      return text
    },
    close: async () => agent.destroy(),
  }
}

/**
 * AWS SDK v3's S3Client against the request's origin (one client per origin, path-style): GetObject for a GET
 * (the object's body is the answer), PutObject for a PUT; other methods are not S3's and are refused. The lab
 * upstream's `200` with a JSON body is an answer the SDK takes for both.
 */
export function s3Client(agent: http.Agent): LabClient {
  const clients = new Map<string, S3Client>()
  const clientFor = (origin: string): S3Client => {
    let client = clients.get(origin)
    if (client === undefined) {
      client = new S3Client({
        requestHandler: new NodeHttpHandler({ httpAgent: agent }),
        endpoint: origin,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      })
      clients.set(origin, client)
    }
    return client
  }
  return {
    name: 'S3Client',
    async send(url, request = {}) {
      const { origin, pathname } = new URL(url)
      const [bucket = '', ...key] = pathname.slice(1).split('/').map(decodeURIComponent)
      const target = { Bucket: bucket, Key: key.join('/') }
      const method = request.method ?? 'GET'
      const abort = request.signal === undefined ? {} : { abortSignal: request.signal }
      if (method === 'GET') {
        const output = await clientFor(origin).send(new GetObjectCommand(target), abort)
        return (await output.Body?.transformToString()) ?? ''
      }
      if (method === 'PUT') {
        if (request.body !== undefined && typeof request.body !== 'string')
          throw new Error('the S3 lab client sends string bodies only')
        await clientFor(origin).send(new PutObjectCommand({ ...target, Body: request.body ?? '' }), abort)
        return ''
      }
      throw new Error(`S3Client: no S3 operation for ${method}`)
    },
    close: async () => {
      for (const client of clients.values()) client.destroy()
      agent.destroy()
    },
  }
}

function httpStatusError(status: number): Error {
  return Object.assign(new Error(`HTTP ${status}`), { code: `HTTP_${status}` })
}
