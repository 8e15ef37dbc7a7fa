import { defineFrameworkLabSuite } from './framework-lab-suite.js'

defineFrameworkLabSuite('fastify')
