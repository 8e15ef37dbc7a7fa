import { defineStaleHopSuite } from './stale-hop-suite.js'
import { defineUnreplayableSuite } from './unreplayable-suite.js'

defineStaleHopSuite('silent-drop', { plainFetchMustLose: true })
defineUnreplayableSuite('silent-drop', { unprotectedMustLose: true })
