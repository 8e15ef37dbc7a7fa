#!/usr/bin/env node
// The public API of every entry point, as API Extractor reports it from the built types (dist/*.d.ts), checked
// in under api/. `pnpm api` rewrites the reports; `node scripts/api-report.mjs --check` (a step of `pnpm test`)
// fails when the built types no longer match them, so a change to the public API is always a visible diff.
//
// API Extractor leaves module augmentations out of its report (`declare module 'fastify'`, `declare global`):
// they are how `request.fetch`, `req.fetch` and `ctx.fetch` are typed, so this script appends them to the
// report of the entry point that declares them. Needs a build first (`pnpm build`).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor'
import ts from 'typescript'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const reportFolder = join(root, 'api')
const check = process.argv.includes('--check')

/** One report per entry point of a published package: `<report>.api.md` from `packages/<dir>/<types>`. */
const ENTRY_POINTS = [
  { report: 'core', dir: 'core', types: 'dist/index.d.ts' },
  { report: 'core-adapter', dir: 'core', types: 'dist/adapter.d.ts' },
  { report: 'core-axios', dir: 'core', types: 'dist/axios.d.ts' },
  { report: 'core-got', dir: 'core', types: 'dist/got.d.ts' },
  { report: 'fastify', dir: 'fastify', types: 'dist/index.d.ts' },
  { report: 'express', dir: 'express', types: 'dist/index.d.ts' },
  { report: 'koa', dir: 'koa', types: 'dist/index.d.ts' },
]

/** The compiler settings API Extractor analyses the built types with (the packages' own, for .d.ts files). */
const compilerOptions = {
  target: 'ES2022',
  lib: ['ES2023'],
  module: 'ESNext',
  moduleResolution: 'Bundler',
  types: ['node'],
  strict: true,
  skipLibCheck: true,
  esModuleInterop: true,
}

function configFor(entry, scratch) {
  const projectFolder = join(root, 'packages', entry.dir)
  return ExtractorConfig.prepare({
    configObject: {
      projectFolder,
      mainEntryPointFilePath: join(projectFolder, entry.types),
      // Nothing is inlined: every other package, the workspace's own included, stays an import.
      bundledPackages: [],
      compiler: { overrideTsconfig: { compilerOptions, include: ['dist/*.d.ts'] } },
      apiReport: {
        enabled: true,
        reportFileName: `${entry.report}.api.md`,
        // Written to a scratch folder, then compared or copied by this script (with the augmentations added).
        reportFolder: scratch,
        reportTempFolder: scratch,
        includeForgottenExports: false,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      newlineKind: 'lf',
      messages: {
        compilerMessageReporting: { default: { logLevel: 'warning' } },
        extractorMessageReporting: {
          default: { logLevel: 'warning' },
          // Types the API names but an entry point does not export: kept in the report, where a reviewer sees them.
          'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true },
          // The packages mark nothing @public/@beta: everything exported is public, and @internal is stripped.
          'ae-missing-release-tag': { logLevel: 'none' },
          // Listed per item as `(undocumented)` in the report itself.
          'ae-undocumented': { logLevel: 'none' },
        },
        tsdocMessageReporting: { default: { logLevel: 'warning' } },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: join(projectFolder, 'package.json'),
  })
}

/** `declare module '…' { … }` and `declare global { … }` blocks at the top of a .d.ts file, without comments. */
function augmentationsOf(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed, removeComments: true })
  return source.statements
    .filter((statement) => ts.isModuleDeclaration(statement))
    .map((statement) => printer.printNode(ts.EmitHint.Unspecified, statement, source))
}

function reportFor(entry, scratch) {
  const types = join(root, 'packages', entry.dir, entry.types)
  if (!existsSync(types)) {
    console.error(`api-report: ${relative(root, types)} is missing: build first (\`pnpm build\`)`)
    process.exit(2)
  }
  const messages = []
  const result = Extractor.invoke(configFor(entry, scratch), {
    // Always writes the report to the scratch folder; the comparison with api/ is this script's.
    localBuild: true,
    showVerboseMessages: false,
    messageCallback: (message) => {
      if (message.logLevel === ExtractorLogLevel.Error || message.logLevel === ExtractorLogLevel.Warning)
        messages.push(message)
      message.handled = true
    },
  })
  for (const message of messages)
    console.warn(`  ${message.logLevel}: ${message.formatMessageWithLocation(root).replaceAll('\n', '\n    ')}`)
  if (result.errorCount > 0) {
    console.error(`api-report: API Extractor failed on ${relative(root, types)} (${result.errorCount} errors)`)
    process.exit(2)
  }
  let text = readFileSync(join(scratch, `${entry.report}.api.md`), 'utf8')
  const augmentations = augmentationsOf(types)
  if (augmentations.length > 0) {
    text +=
      '\n## Module augmentations\n\n' +
      "Merged into the framework's own types when the package is imported (API Extractor does not report them;\n" +
      '`scripts/api-report.mjs` adds them here).\n\n' +
      '```ts\n' +
      augmentations.join('\n\n') +
      '\n```\n'
  }
  return { text, warnings: messages.length }
}

/** A short line diff (longest common subsequence, a few lines of context) of a committed report and the new one. */
function diff(before, after, context = 2, limit = 40) {
  const a = before.split('\n')
  const b = after.split('\n')
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1))
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
  const ops = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push([' ', a[i++], j++])
    else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push(['-', a[i++], j])
    else ops.push(['+', b[j], ++j])
  }
  const shown = new Set()
  ops.forEach(([op], k) => {
    if (op !== ' ') for (let c = k - context; c <= k + context; c++) shown.add(c)
  })
  const lines = []
  let last = -2
  for (let k = 0; k < ops.length && lines.length < limit; k++) {
    if (!shown.has(k)) continue
    if (k !== last + 1) lines.push(`    @@ near line ${ops[k][2] + 1} of the new report`)
    lines.push(`    ${ops[k][0]} ${ops[k][1]}`)
    last = k
  }
  if (lines.length >= limit) lines.push('    …')
  return lines.join('\n')
}

const scratch = mkdtempSync(join(tmpdir(), 'staleguard-api-'))
const stale = []
let warnings = 0
try {
  for (const entry of ENTRY_POINTS) {
    const file = join(reportFolder, `${entry.report}.api.md`)
    console.log(`${entry.report}.api.md  ←  packages/${entry.dir}/${entry.types}`)
    const { text, warnings: count } = reportFor(entry, scratch)
    warnings += count
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : null
    if (committed === text) continue
    if (check) stale.push({ file, committed, text })
    else {
      writeFileSync(file, text)
      console.log(`  updated ${relative(root, file)}`)
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

// A report whose entry point is gone is stale too.
const expected = new Set(ENTRY_POINTS.map((entry) => `${entry.report}.api.md`))
for (const name of existsSync(reportFolder) ? readdirSync(reportFolder) : []) {
  if (!name.endsWith('.api.md') || expected.has(name)) continue
  const file = join(reportFolder, name)
  if (check) stale.push({ file, committed: readFileSync(file, 'utf8'), text: null })
  else {
    unlinkSync(file)
    console.log(`  removed ${relative(root, file)} (no such entry point)`)
  }
}

if (warnings > 0)
  console.warn(`api-report: ${warnings} warning(s) from API Extractor above (the reports are still written)`)
if (stale.length > 0) {
  console.error('\napi-report: the public API differs from the checked-in reports (- checked in, + built now):')
  for (const { file, committed, text } of stale) {
    const name = relative(root, file)
    if (committed === null) console.error(`\n  ${name}: missing`)
    else if (text === null) console.error(`\n  ${name}: its entry point no longer exists`)
    else console.error(`\n  ${name}:\n${diff(committed, text)}`)
  }
  console.error(
    '\nThe public API changed. If that is intended, run `pnpm api` (`npx -y pnpm@10 api`) after the build and' +
      ' commit the updated api/*.api.md files; if not, undo the change to the exported types.',
  )
  process.exit(1)
}
console.log(
  check ? 'api-report: the reports match the built types' : 'api-report: api/*.api.md match the built types now',
)
