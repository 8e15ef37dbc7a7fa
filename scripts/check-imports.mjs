#!/usr/bin/env node
// The import graph of the packages' source (packages/*/src, tests left out): no import cycle, core's folders
// keep to the layering below, and no package reaches into another one by a relative path (adapters use
// `@staleguard/core` or one of its exported subpaths). Type-only imports count: a cycle through types is
// still a cycle for the reader. Prints every problem and a one-line summary; exits 1 if there is any.
//
//   node scripts/check-imports.mjs [root]    root: a directory holding packages/*/src (default: this repo)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/** Core's folders, by role. For each folder, either the folders it must not import (`deny`) or the only
 * other folders it may import (`allow`). Folders not listed are unconstrained; the entry files at the
 * root of core/src (index.ts, cli.ts, adapter.ts) may import any folder, and no folder imports them. */
const CORE_SRC = 'packages/core/src'
const LAYERS = {
  api: { deny: ['scope'] },
  dispatch: { deny: ['scope', 'api', 'agents', 'integrations'] },
  agents: { deny: ['scope', 'api', 'integrations'] },
  integrations: { allow: ['agents'] },
  observe: { deny: ['dispatch', 'scope', 'api'] },
  retry: { deny: ['dispatch', 'scope', 'api'] },
  config: { allow: ['http'] },
  http: { allow: ['config'] },
  probe: { allow: ['config'] },
  proxy: { allow: ['config', 'http'] },
  inherit: { allow: ['config', 'http', 'proxy'] },
}
/** Packages that use core only through its package name. */
const CORE_PACKAGE = '@staleguard/core'
const ADAPTERS = ['fastify', 'express', 'koa']

const TEST_FILE = /\.test(-d)?\.[cm]?tsx?$/
const SOURCE_FILE = /\.[cm]?tsx?$/

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'))
if (!existsSync(join(root, 'packages'))) {
  console.error(`check-imports: no packages/ under ${root}`)
  process.exit(2)
}
const rel = (file) => relative(root, file).split(sep).join('/')

function sourceFiles(dir) {
  const files = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') files.push(...sourceFiles(path))
    } else if (SOURCE_FILE.test(entry.name) && !entry.name.endsWith('.d.ts') && !TEST_FILE.test(entry.name)) {
      files.push(path)
    }
  }
  return files
}

/** Every module specifier in a file with its line: import/export … from, import x = require(), import(),
 * and import('…') in type positions; `typeOnly` for `import type`, `export type … from` and import types
 * (not for `import { type A }`, which verbatimModuleSyntax keeps as a runtime import). */
function specifiers(file) {
  const text = readFileSync(file, 'utf8')
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const found = []
  const add = (node, typeOnly) => {
    if (node && ts.isStringLiteralLike(node)) {
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1
      found.push({ specifier: node.text, line, typeOnly })
    }
  }
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node.importClause?.isTypeOnly === true)
    else if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, node.isTypeOnly)
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal, true)
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

const isFile = (path) => existsSync(path) && statSync(path).isFile()

/** The file a relative specifier names, the way TypeScript's bundler resolution finds it, or null. */
function resolveRelative(from, specifier) {
  const base = resolve(dirname(from), specifier)
  const candidates = []
  const js = base.match(/^(.*)\.([cm]?)js(x?)$/)
  if (js) candidates.push(`${js[1]}.${js[2]}ts${js[3]}`)
  candidates.push(base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx'))
  return candidates.find(isFile) ?? null
}

const packagesDir = join(root, 'packages')
const files = readdirSync(packagesDir)
  .filter((name) => existsSync(join(packagesDir, name, 'src')))
  .flatMap((name) => sourceFiles(join(packagesDir, name, 'src')))
  .sort()
const inGraph = new Set(files)
const packageOf = (file) => relative(packagesDir, file).split(sep)[0]

function coreExportSpecifiers() {
  const manifest = join(packagesDir, 'core', 'package.json')
  if (!existsSync(manifest)) return null
  const exports = JSON.parse(readFileSync(manifest, 'utf8')).exports ?? { '.': null }
  return new Set(Object.keys(exports).map((key) => (key === '.' ? CORE_PACKAGE : `${CORE_PACKAGE}/${key.slice(2)}`)))
}
const coreExports = coreExportSpecifiers()

/** The folder of core/src a file is in ('' for the entry files at its root), or null outside core/src. */
function coreFolder(file) {
  const path = rel(file)
  if (!path.startsWith(`${CORE_SRC}/`)) return null
  const parts = path.slice(CORE_SRC.length + 1).split('/')
  return parts.length === 1 ? '' : parts[0]
}

function layeringProblem(fromFolder, toFolder) {
  if (fromFolder === null || toFolder === null || fromFolder === toFolder || fromFolder === '') return null
  if (toFolder === '') return `${fromFolder}/ must not import core's entry files`
  const rule = LAYERS[fromFolder]
  if (rule?.deny?.includes(toFolder)) return `${fromFolder}/ must not import ${toFolder}/`
  if (rule?.allow && !rule.allow.includes(toFolder)) {
    return `${fromFolder}/ may import only ${rule.allow.map((folder) => `${folder}/`).join(', ')}`
  }
  return null
}

/** file → the files it imports → whether every import of that file is type-only. */
const graph = new Map(files.map((file) => [file, new Map()]))
const violations = []
const unresolved = []
for (const file of files) {
  const fromPackage = packageOf(file)
  for (const { specifier, line, typeOnly } of specifiers(file)) {
    const where = `${rel(file)}:${line}`
    if (!specifier.startsWith('.')) {
      const isCore = specifier === CORE_PACKAGE || specifier.startsWith(`${CORE_PACKAGE}/`)
      if (isCore && ADAPTERS.includes(fromPackage) && coreExports && !coreExports.has(specifier)) {
        violations.push(`${where} imports '${specifier}', which core does not export (${[...coreExports].join(', ')})`)
      }
      continue
    }
    const target = resolveRelative(file, specifier)
    const toPackage = relative(packagesDir, target ?? resolve(dirname(file), specifier)).split(sep)[0]
    if (toPackage !== fromPackage && !toPackage.startsWith('..')) {
      const through = toPackage === 'core' ? CORE_PACKAGE : 'its package name'
      violations.push(`${where} imports '${specifier}', a relative path into packages/${toPackage}: use ${through}`)
      continue
    }
    if (target === null) {
      unresolved.push(`${where} imports '${specifier}': no such file`)
      continue
    }
    if (!inGraph.has(target)) continue
    const edges = graph.get(file)
    edges.set(target, (edges.get(target) ?? true) && typeOnly)
    const problem = layeringProblem(coreFolder(file), coreFolder(target))
    if (problem) violations.push(`${where} imports '${specifier}' (${problem})`)
  }
}

/** Tarjan's strongly connected components; each returned sorted. */
function stronglyConnected(graph) {
  let next = 0
  const index = new Map()
  const low = new Map()
  const stack = []
  const onStack = new Set()
  const components = []
  const connect = (node) => {
    index.set(node, next)
    low.set(node, next)
    next++
    stack.push(node)
    onStack.add(node)
    for (const to of graph.get(node).keys()) {
      if (!index.has(to)) {
        connect(to)
        low.set(node, Math.min(low.get(node), low.get(to)))
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node), index.get(to)))
    }
    if (low.get(node) !== index.get(node)) return
    const component = []
    let member
    do {
      member = stack.pop()
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    components.push(component.sort())
  }
  for (const node of graph.keys()) if (!index.has(node)) connect(node)
  return components
}

/** The shortest cycle from `start` back to itself inside one component (breadth first). */
function shortestCycle(start, members) {
  const previous = new Map()
  const queue = [start]
  while (queue.length > 0) {
    const node = queue.shift()
    for (const to of graph.get(node).keys()) {
      if (!members.has(to)) continue
      if (to === start) {
        const path = [start]
        for (let at = node; at !== start; at = previous.get(at)) path.splice(1, 0, at)
        return [...path, start]
      }
      if (!previous.has(to)) {
        previous.set(to, node)
        queue.push(to)
      }
    }
  }
  return [start, start]
}

const short = (file) => rel(file).replace(/^packages\/[^/]+\/src\//, '')
const cycles = stronglyConnected(graph)
  .filter((component) => component.length > 1 || graph.get(component[0]).has(component[0]))
  .map((component) => {
    const cycle = shortestCycle(component[0], new Set(component))
    const packageName = packageOf(component[0])
    const rest = component.filter((file) => !cycle.includes(file))
    const steps = cycle.slice(1).map((to, i) => [cycle[i], to])
    const typeOnly = steps.filter(([from, to]) => graph.get(from).get(to))
    const notes = []
    if (rest.length > 0) notes.push(`its component also takes in ${rest.map(short).join(', ')}`)
    if (typeOnly.length === steps.length) notes.push('every step type-only')
    else if (typeOnly.length > 0) {
      notes.push(`type-only: ${typeOnly.map(([from, to]) => `${short(from)} → ${short(to)}`).join(', ')}`)
    }
    return `packages/${packageName}/src: ${cycle.map(short).join(' → ')}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`
  })

for (const cycle of cycles) console.error(`cycle: ${cycle}`)
for (const violation of violations) console.error(`layering: ${violation}`)
for (const problem of unresolved) console.error(`unresolved: ${problem}`)
const plural = (count, word) => `${count} ${word}${count === 1 ? '' : 's'}`
const summary = [
  plural(files.length, 'file'),
  plural(cycles.length, 'cycle'),
  plural(violations.length, 'layering violation'),
  ...(unresolved.length > 0 ? [`${unresolved.length} unresolved`] : []),
]
console.log(`imports: ${summary.join(', ')}`)
process.exit(cycles.length + violations.length + unresolved.length > 0 ? 1 : 0)
