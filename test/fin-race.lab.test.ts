import { defineStaleHopSuite } from './stale-hop-suite.js'
import { defineUnreplayableSuite } from './unreplayable-suite.js'

defineStaleHopSuite('fin-race', { plainFetchMustLose: true })
defineUnreplayableSuite('fin-race', { unprotectedMustLose: true })
