import { defineStaleHopSuite } from './stale-hop-suite.js'
import { defineUnreplayableSuite } from './unreplayable-suite.js'

defineStaleHopSuite('haproxy', { plainFetchMustLose: false })
defineUnreplayableSuite('haproxy', { unprotectedMustLose: false })
