import http from 'node:http'
import { createHttpAgent } from '@staleguard/core'
import { type Contender, compare, pinToCpu, startBenchUpstream } from './harness.js'

/**
 * `http.request` through `createHttpAgent()` against a plain keep-alive `http.Agent` (lifo, as Node's own
 * global agent): the price of staleguard's bookkeeping on node:http's request path.
 */
export async function benchHttpAgent(options: {
  rounds: number
  perRound: number
  inFlight: number
}): Promise<{ ratio: number; cpuRatio: number; noiseFloor: number }> {
  const { origin, child } = await startBenchUpstream()
  pinToCpu(process.pid, 0)
  const url = new URL(origin + '/items')
  const plain = new http.Agent({ keepAlive: true, scheduling: 'lifo' })
  const staleguard = createHttpAgent()
  const get = (agent: http.Agent) => () =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ host: url.hostname, port: url.port, path: url.pathname, agent }, (res) => {
          res.resume()
          res.on('end', resolve)
          res.on('error', reject)
        })
        .on('error', reject)
    })
  const contenders: [Contender, Contender] = [
    { name: 'http.request + http.Agent', send: get(plain) },
    { name: 'http.request + createHttpAgent (staleguard)', send: get(staleguard) },
  ]
  const result = await compare('createHttpAgent vs a plain keep-alive http.Agent', contenders, options)
  // Two processes of this bench differ by a few percent: the twin, measured the same way, says how far the
  // figure above can sit from the truth in this run.
  const twin = new http.Agent({ keepAlive: true, scheduling: 'lifo' })
  const floor = await compare(
    'noise floor: a plain keep-alive http.Agent vs its twin',
    [contenders[0], { name: 'http.request + its twin http.Agent', send: get(twin) }],
    options,
  )
  twin.destroy()
  const stats = staleguard.stats()
  console.log(
    `  staleguard: ${stats.socketsOpened} connections opened, ${stats.socketsEvicted} closed early, ${stats.unreplayableOnNewConnection} requests that cannot be sent twice put on a new one`,
  )
  plain.destroy()
  staleguard.destroy()
  child.disconnect()
  return { ratio: result.ratio, cpuRatio: result.cpuRatio, noiseFloor: floor.ratio }
}
