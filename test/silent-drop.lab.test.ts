import { defineStaleHopSuite } from './stale-hop-suite.js'

defineStaleHopSuite('silent-drop', { plainFetchMustLose: true })
