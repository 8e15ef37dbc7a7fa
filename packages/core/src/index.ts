export { createDispatcher, StaleguardDispatcher } from './dispatch/staleguard-dispatcher.js'
export type { OriginStats, StaleguardStats } from './observe/stats.js'
export { installGlobalDispatcher, type GlobalDispatcherInstallation } from './api/install-global-dispatcher.js'
export { createFetch, type StaleguardFetch } from './api/create-fetch.js'
export {
  createHttpAgent,
  createHttpsAgent,
  StaleguardHttpAgent,
  StaleguardHttpsAgent,
  type StaleguardAgentOptions,
} from './agents/http-agents.js'
export { installGlobalAgents, type GlobalAgentsInstallation } from './agents/global-agents.js'
export { createRequest, request, type StaleguardRequest, type StaleguardRequestOptions } from './api/create-request.js'
export { isStaleSocketError } from './retry/stale-errors.js'
export { getStaleguardDiagnostics, type StaleguardDiagnostics } from './observe/diagnostics.js'
export type { RetryDecision } from './retry/retry-decision.js'
export {
  IDEMPOTENT_METHODS,
  StaleguardOptionError,
  type OriginOptions,
  type RetryBudgetOptions,
  type ProxyOption,
  type ProxySettings,
  type RetryOptions,
  type StaleguardOptions,
} from './config/options.js'
export { INTERMEDIARY_IDLE_TIMEOUTS, idleLimitBelow, type Intermediary } from './config/intermediaries.js'
export type { StaleguardCounters } from './observe/counters.js'
export {
  STALEGUARD_CHANNELS,
  type EvictEvent,
  type IdleLimitEvent,
  type RetryEvent,
  type StaleFailureEvent,
  type StaleFailureFacts,
  type StaleguardLogger,
} from './observe/events.js'
export type { StaleguardRequestScope } from './scope/request-scope.js'
export { tuneServer, type ServerTimeouts, type ServerTuningOptions } from './scope/server-tuning.js'
export { formatReport as formatProbeReport } from './probe/report-text.js'
export {
  probeIdleLimit,
  type ConnectionProgress,
  type ProbeObservation,
  type ProbeOptions,
  type ProbeOutcome,
  type ProbeProgress,
  type ProbeReport,
} from './probe/probe-idle-limit.js'
export {
  formatPrometheusMetrics,
  registerPromClientMetrics,
  STALEGUARD_METRICS,
  type MetricDefinition,
  type MetricsOptions,
  type PromMetricConfig,
  type PromClientLike,
  type StatsSource,
} from './observe/metrics.js'
export {
  registerOpenTelemetryMetrics,
  type MetricAttributes,
  type ObservableInstrument,
  type OpenTelemetryMeter,
  type OpenTelemetryMeterProvider,
  type OpenTelemetryMetricsOptions,
  type OpenTelemetryMetricsRegistration,
} from './observe/opentelemetry-metrics.js'
