import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    alias: {
      '@staleguard/core': src('./packages/core/src/index.ts'),
      '@staleguard/fastify': src('./packages/fastify/src/index.ts'),
      '@staleguard/express': src('./packages/express/src/index.ts'),
      '@staleguard/koa': src('./packages/koa/src/index.ts'),
      '@staleguard/lab': src('./test/lab/src/index.ts'),
      '@staleguard/example-shared': src('./examples/shared/behind-nginx.ts'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Each file runs in its own process: several install the global dispatcher.
    pool: 'forks',
    // Lab files spend their time waiting out idle gaps, not on the CPU: run them side by side.
    maxWorkers: 4,
    fileParallelism: true,
    typecheck: {
      enabled: true,
      include: ['packages/*/src/**/*.test-d.ts'],
    },
  },
})
