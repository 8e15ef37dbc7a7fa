import base from '../../tsup.config.base.js'

// The library and the `staleguard` CLI (bin: dist/cli.js); types only for the library, without the members
// marked @internal (the dispatcher's hooks for its own handler and for request scopes).
export default { ...base, entry: ['src/index.ts', 'src/cli.ts'], dts: { entry: 'src/index.ts', compilerOptions: { stripInternal: true } } }
