import base from '../../tsup.config.base.js'

// The library, its adapter-authors' entry, the axios and got integrations and the `staleguard` CLI (bin: dist/cli.js); types for the two
// library entries, without the members marked @internal. Split into shared chunks, so that the entries
// share one copy of each module (and of its state) in CommonJS as in ESM.
export default {
  ...base,
  entry: ['src/index.ts', 'src/adapter.ts', 'src/axios.ts', 'src/got.ts', 'src/cli.ts'],
  splitting: true,
  // `import.meta.url` in the CommonJS build too: undici is loaded through `createRequire` (src/http/undici.ts).
  shims: true,
  dts: {
    entry: ['src/index.ts', 'src/adapter.ts', 'src/axios.ts', 'src/got.ts'],
    compilerOptions: { stripInternal: true },
  },
}
