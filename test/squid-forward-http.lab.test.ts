import { defineSquidSuite } from './squid-suite.js'

defineSquidSuite({
  name: 'http: target sent to the proxy in absolute form (proxyTunnel: false)',
  tls: false,
  tunnel: false,
})
