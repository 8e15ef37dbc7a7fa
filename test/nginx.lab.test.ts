import { defineStaleHopSuite } from './stale-hop-suite.js'
import { defineUnreplayableSuite } from './unreplayable-suite.js'

// nginx closes idle connections with a FIN on its own timer: the race is real but rare on loopback, so the
// plain-fetch baseline is reported by the demo rather than asserted.
defineStaleHopSuite('nginx', { plainFetchMustLose: false })
defineUnreplayableSuite('nginx', { unprotectedMustLose: false })
