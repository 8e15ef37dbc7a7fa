import { defineSquidSuite } from './squid-suite.js'

defineSquidSuite({ name: 'https: target through a CONNECT tunnel', tls: true, tunnel: true })
