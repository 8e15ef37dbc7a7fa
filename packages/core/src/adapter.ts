/**
 * `@staleguard/core/adapter`: what a framework adapter is built from (the Fastify, Express and Koa packages
 * are a few dozen lines over it). Apps do not need it: they use an adapter, or the main entry point.
 */
export {
  AppInstallation,
  createAppInstallation,
  type AppInstallationOptions,
  type ScopeControls,
} from './scope/app-installation.js'
export { RequestScope, type IncomingRequest } from './scope/request-scope.js'
export type { RequestScopeOptions } from './scope/scope-options.js'
export type { DescribeIncoming } from './scope/scope-accessors.js'
// The types the adapter API above names, so an adapter can spell them from this entry point alone.
export type { ResolvedScopeOptions } from './scope/scope-options.js'
export type { AbortableCall, DispatchScope } from './dispatch/call-scope.js'
export type { StaleguardOptions } from './config/options.js'
export type { ServerTuningOptions } from './scope/server-tuning.js'
export type { StaleguardStats } from './observe/stats.js'
export type { StaleguardLogger } from './observe/events.js'
export type { StaleguardRequestScope } from './scope/request-scope.js'
export type { StaleguardRequest } from './api/create-request.js'
