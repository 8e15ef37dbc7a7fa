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
