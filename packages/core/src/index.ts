export { createDispatcher, StaleguardDispatcher, type OriginStats, type StaleguardStats } from './dispatcher.js'
export { installGlobalDispatcher, type GlobalDispatcherInstallation } from './global-dispatcher.js'
export { createFetch, type StaleguardFetch } from './fetch.js'
export { createRequest, request, type StaleguardRequest, type StaleguardRequestOptions } from './request.js'
export { isStaleSocketError } from './stale-errors.js'
export { getStaleguardDiagnostics, type RetryDecision, type StaleguardDiagnostics } from './diagnostics.js'
export {
  StaleguardOptionError,
  type OriginOptions,
  type RetryBudgetOptions,
  type RetryOptions,
  type StaleguardOptions,
} from './options.js'
export { INTERMEDIARY_IDLE_TIMEOUTS, idleLimitBelow, type Intermediary } from './intermediaries.js'
export { IDEMPOTENT_METHODS } from './request-safety.js'
export type { StaleguardCounters } from './counters.js'
export {
  STALEGUARD_CHANNELS,
  type EvictEvent,
  type IdleLimitEvent,
  type RetryEvent,
  type StaleFailureEvent,
  type StaleguardLogger,
} from './events.js'
export { createRequestScopes, RequestScopes, type RequestScopesOptions, type ScopeControls } from './request-scopes.js'
export { bindRequestScopes, defineScopeAccessors, hasScopeAccessors, type DescribeIncoming } from './scope-accessors.js'
export { RequestScope, type IncomingRequest, type RequestScopeOptions, type StaleguardRequestScope } from './request-scope.js'
export { tuneServer, type ServerTimeouts, type ServerTuningOptions } from './server-tuning.js'
export { formatReport as formatProbeReport } from './probe/report-text.js'
export { probeIdleLimit, type ProbeObservation, type ProbeOptions, type ProbeOutcome, type ProbeProgress, type ProbeReport } from './probe/probe-idle-limit.js'
export { formatPrometheusMetrics, registerPromClientMetrics, STALEGUARD_METRICS, type MetricsOptions, type PromClientLike, type StatsSource } from './metrics.js'
