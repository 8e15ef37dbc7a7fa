import { defineSquidSuite } from './squid-suite.js'

defineSquidSuite({ name: 'http: target through a CONNECT tunnel (undici default)', tls: false, tunnel: true })
