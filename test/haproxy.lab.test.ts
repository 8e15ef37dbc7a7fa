import { defineStaleHopSuite } from './stale-hop-suite.js'

defineStaleHopSuite('haproxy', { plainFetchMustLose: false })
