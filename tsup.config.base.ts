import { defineConfig } from 'tsup'

/** Every published package builds the same way: ESM + CommonJS for Node 20, with types for both. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
})
