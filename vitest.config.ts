import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    // Exact names: a package's subpath (`@staleguard/core/adapter`) is a file of its own, not a path below the entry.
    alias: Object.entries({
      '@staleguard/core': './packages/core/src/index.ts',
      '@staleguard/core/adapter': './packages/core/src/adapter.ts',
      '@staleguard/core/axios': './packages/core/src/axios.ts',
      '@staleguard/core/got': './packages/core/src/got.ts',
      '@staleguard/fastify': './packages/fastify/src/index.ts',
      '@staleguard/express': './packages/express/src/index.ts',
      '@staleguard/koa': './packages/koa/src/index.ts',
      '@staleguard/lab': './test/lab/src/index.ts',
      '@staleguard/lab/vitest': './test/lab/src/vitest.ts',
      '@staleguard/example-shared': './examples/shared/behind-nginx.ts',
    }).map(([name, path]) => ({ find: new RegExp(`^${name.replaceAll('/', '\\/')}$`), replacement: src(path) })),
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
