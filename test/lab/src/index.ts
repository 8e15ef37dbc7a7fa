export { startUpstream, type ReceivedRequest, type Upstream, type UpstreamOptions } from './upstream.js'
export { startFaultProxy, type FaultMode, type FaultProxy, type FaultProxyStats } from './fault-proxy.js'
export { startNginx, type NginxOptions, type ProxyProcess } from './nginx.js'
export { startHaproxy, type HaproxyOptions } from './haproxy.js'
export { startSquid, type SquidOptions, type SquidProcess, type SquidLogLine } from './squid.js'
export { findTool, requireTool, isCI, type LabTool } from './tools.js'
export { freePort, waitForPort } from './free-port.js'
export { sleep, until } from './wait.js'
export { runBursts, errorCode, type BurstPlan, type BurstResult } from './bursts.js'
export { runSteady, seededRandom, type SteadyPlan, type SteadyResult } from './steady.js'
export {
  plainFetchClient,
  manualFixClient,
  fetchClient,
  requestClient,
  type LabClient,
  type LabRequest,
} from './clients.js'
export {
  startHop,
  runWorkload,
  HOP_IDLE_MS,
  HOP_DESCRIPTIONS,
  type Hop,
  type HopKind,
  type Workload,
  type WorkloadMethod,
  type WorkloadResult,
} from './scenarios.js'
export { incomingExchange, UUID_V4, type IncomingExchange } from './incoming.js'
export { exposeGc, type CollectGarbage } from './gc.js'
export { createTestCertificate, createTestPki, type TestCertificate, type TestPki } from './certificate.js'
export { startHttp2Upstream, type Http2Upstream, type Http2UpstreamOptions } from './http2-upstream.js'
