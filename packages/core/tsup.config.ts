import base from '../../tsup.config.base.js'

// The library and the `staleguard` CLI (bin: dist/cli.js); types only for the library.
export default { ...base, entry: ['src/index.ts', 'src/cli.ts'], dts: { entry: 'src/index.ts' } }
