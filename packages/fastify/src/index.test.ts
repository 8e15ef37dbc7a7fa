import { defineAdapterContract } from '../../../test/adapter-contract.js'

defineAdapterContract('fastify')
