import { defineStaleHopSuite } from './stale-hop-suite.js'

defineStaleHopSuite('fin-race', { plainFetchMustLose: true })
