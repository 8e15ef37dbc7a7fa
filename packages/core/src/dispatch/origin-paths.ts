import type { Dispatcher, buildConnector as BuildConnector, Pool as UndiciPool } from 'undici'
import type { StaleguardOptions } from '../config/options.js'
import { buildConnector } from '../http/undici.js'
import type { InheritedBase } from '../inherit/inherited-base.js'
import { createProxyClient, forwardConnector, forwardRequests, tunnelConnector } from '../proxy/proxy-connectors.js'
import { type ProxyPlan, type ProxyRoute, planProxy } from '../proxy/proxy-plan.js'
import type { OriginPath } from './origin-state.js'
import { type AddressLookup, systemLookup } from './address-refresh.js'

/**
 * How a dispatcher's connections leave the process: the proxy plan it was built with (given, or what the
 * dispatcher it stands in for went through), the connector that dispatcher was given if any, and the pools to
 * each proxy that CONNECT requests go through.
 */
export class OriginPaths {
  readonly plan: ProxyPlan
  readonly #connector: BuildConnector.connector | null
  readonly #proxyClients = new Map<ProxyRoute, UndiciPool>()

  /** `connector`: an inherited connector function, used for direct connections unless `connect` options were given. */
  constructor(proxy: StaleguardOptions['proxy'], base: InheritedBase, connectGiven: boolean) {
    this.plan = planProxy(proxy, base.proxy)
    this.#connector = connectGiven ? null : base.connector
  }

  /** Direct, or through the proxy the plan names for this origin: a tunnel, or a forward proxy for `http:`. */
  pathTo(key: string, connect: BuildConnector.BuildOptions): OriginPath {
    const target = new URL(key)
    const route = this.plan.routeFor(target)
    if (route === null) {
      // What a connector function of the app's resolves with is not ours to know; a unix socket has no name.
      const lookup =
        this.#connector !== null || connect.socketPath != null
          ? null
          : ((connect as { lookup?: AddressLookup }).lookup ?? systemLookup)
      return { connect: this.#connector ?? buildConnector({ ...connect }), proxy: null, forward: null, lookup }
    }
    // Through a proxy, the proxy resolves the name.
    if (target.protocol === 'http:' && !route.tunnel) {
      return {
        connect: forwardConnector(route),
        proxy: route.label,
        forward: forwardRequests(route),
        lookup: null,
      }
    }
    let client = this.#proxyClients.get(route)
    if (client === undefined) {
      client = createProxyClient(route)
      this.#proxyClients.set(route, client)
    }
    return {
      connect: tunnelConnector(route, client, { ...route.requestTls, ...connect } as BuildConnector.BuildOptions),
      proxy: route.label,
      forward: null,
      lookup: null,
    }
  }

  /** The pools to proxies, for the dispatcher to close with its own. */
  dispatchers(): Iterable<Dispatcher> {
    return this.#proxyClients.values()
  }
}
