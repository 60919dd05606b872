#!/usr/bin/env node
// Every `ts` example compiles: the fenced ```ts blocks of the READMEs and docs, and the
// ```ts blocks under `@example` in the packages' TSDoc. Each block becomes a module of
// examples/doc-examples, a project that depends on every package as a user's service would,
// type-checked against the packages' sources. A name the block uses without declaring it is
// imported from the public entry that exports it; the other free names an example may use are
// declared, with their types, in examples/doc-examples/prelude.ts (and <package>.ts).
// Usage: node scripts/check-examples.mjs [--list]
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const project = join(root, 'examples', 'doc-examples')
const outDir = join(project, '.sluice-tmp')
const packages = readdirSync(join(root, 'packages')).map((dir) => ({
  dir: join(root, 'packages', dir),
  manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')),
}))

/** Files below `dir` whose name passes `keep`, skipping dependencies and build output. */
function walk(dir, keep) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      return ['node_modules', 'dist', '.sluice-tmp'].includes(entry.name) ? [] : walk(path, keep)
    }
    return keep(entry.name) ? [path] : []
  })
}

/** The ```ts blocks of a text whose lines pass through `strip`, with their first line numbers. */
function fencedBlocks(lines, strip, from = 0, to = lines.length) {
  const blocks = []
  let open
  for (let index = from; index < to; index++) {
    const line = strip(lines[index])
    if (open === undefined && /^\s*```(ts|typescript)\s*$/.test(line)) {
      open = { line: index + 2, body: [] }
    } else if (open !== undefined && /^\s*```\s*$/.test(line)) {
      blocks.push({ line: open.line, code: open.body.join('\n') })
      open = undefined
    } else if (open !== undefined) open.body.push(line)
  }
  return blocks
}

/** The ```ts blocks that follow an `@example` tag inside the TSDoc comments of a source file. */
function tsdocBlocks(text) {
  const lines = text.split('\n')
  const blocks = []
  for (let index = 0; index < lines.length; index++) {
    if (!/^\s*\*\s*@example\b/.test(lines[index])) continue
    let end = index + 1
    while (end < lines.length && !/\*\/|^\s*\*\s*@(?!example)\w/.test(lines[end])) end++
    blocks.push(...fencedBlocks(lines, (line) => line.replace(/^\s*\* ?/, ''), index + 1, end))
  }
  return blocks
}

/** Every example of the repository, each with the package whose directory it compiles in. */
function examples() {
  const byDir = (file) => packages.find((pkg) => file.startsWith(`${pkg.dir}/`))
  const docs = [
    join(root, 'README.md'),
    ...walk(join(root, 'docs'), (name) => name.endsWith('.md')),
    ...walk(join(root, 'packages'), (name) => name === 'README.md'),
  ]
  const sources = packages.flatMap((pkg) =>
    walk(join(pkg.dir, 'src'), (name) => name.endsWith('.ts')),
  )
  return [
    ...docs.flatMap((file) =>
      fencedBlocks(readFileSync(file, 'utf8').split('\n'), (line) => line).map((block) => ({
        ...block,
        file,
      })),
    ),
    ...sources.flatMap((file) =>
      tsdocBlocks(readFileSync(file, 'utf8')).map((block) => ({ ...block, file })),
    ),
  ].map((example) => ({ ...example, pkg: byDir(example.file) }))
}

/** The specifier that imports `file` from the module at `from`. */
function relativeImport(from, file) {
  const path = relative(dirname(from), file).replace(/\.ts$/, '.js')
  return path.startsWith('.') ? path : `./${path}`
}

/** Names of third-party modules that examples use without importing them. */
const THIRD_PARTY = {
  Kysely: 'kysely',
  sql: 'kysely',
  Redis: 'ioredis',
  Cluster: 'ioredis',
  z: 'zod',
  Registry: 'prom-client',
  trace: '@opentelemetry/api',
  metrics: '@opentelemetry/api',
  expect: 'vitest',
  it: 'vitest',
  test: 'vitest',
  describe: 'vitest',
  beforeAll: 'vitest',
  afterAll: 'vitest',
  defineConfig: 'vitest/config',
  spawn: 'node:child_process',
  writeFileSync: 'node:fs',
  pg: 'default:pg',
  register: 'prom-client',
  PostgresAdapter: 'kysely',
  PostgresIntrospector: 'kysely',
  PostgresQueryCompiler: 'kysely',
}

/**
 * Where a name an example uses without importing it comes from, in order: the public entries
 * of the example's package, those of the other packages, the example's own source file (the
 * TSDoc of an internal helper shows the helper), the `internal` entries, then third parties.
 */
function importResolver() {
  const entries = packages.flatMap((pkg) =>
    Object.entries(pkg.manifest.exports ?? {})
      .filter(([, entry]) => entry['sluice:source'])
      .map(([subpath, entry]) => ({
        pkg,
        internal: subpath.includes('internal'),
        specifier: join(pkg.manifest.name, subpath),
        file: join(pkg.dir, entry['sluice:source']),
      })),
  )
  const sources = packages.flatMap((pkg) => walk(join(pkg.dir, 'src'), (n) => n.endsWith('.ts')))
  const program = ts.createProgram(
    [...entries.map((entry) => entry.file), ...sources],
    compilerOptions(),
  )
  const checker = program.getTypeChecker()
  const exportNames = (file) => {
    const module = checker.getSymbolAtLocation(program.getSourceFile(file))
    return new Set(module ? checker.getExportsOfModule(module).map((symbol) => symbol.name) : [])
  }
  const entryNames = entries.map((entry) => ({ ...entry, names: exportNames(entry.file) }))
  const fileNames = new Map(sources.map((file) => [file, exportNames(file)]))
  return (name, example, modulePath) => {
    const publicEntries = entryNames.filter((entry) => !entry.internal)
    const found =
      publicEntries.find((entry) => entry.pkg === example.pkg && entry.names.has(name)) ??
      publicEntries.find((entry) => entry.names.has(name))
    if (found) return found.specifier
    if (fileNames.get(example.file)?.has(name)) return relativeImport(modulePath, example.file)
    const internal = entryNames.find((entry) => entry.internal && entry.names.has(name))
    if (internal) return internal.specifier
    const sibling = [...fileNames].find(
      ([file, names]) => example.pkg && file.startsWith(`${example.pkg.dir}/`) && names.has(name),
    )?.[0]
    return sibling ? relativeImport(modulePath, sibling) : THIRD_PARTY[name]
  }
}

function compilerOptions() {
  const config = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile).config
  const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, root)
  // Examples import without `import type`, as most users' code does.
  return {
    ...options,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    verbatimModuleSyntax: false,
  }
}

/** Declarations of the free names examples may use: shared ones, then the package's own. */
function preludeOf(pkg) {
  const read = (name) => {
    try {
      return readFileSync(join(project, `${name}.ts`), 'utf8')
    } catch {
      return ''
    }
  }
  const blocks = (text) =>
    text
      .split(/\n\s*\n/)
      .filter((block) => block.trim() && !block.trim().startsWith('//'))
      .map((block) => ({
        block,
        name: /(?:const|let|function|class|interface|type)\s+([\w$]+)/.exec(block)?.[1],
      }))
  // A package's own declaration of a name replaces the shared one.
  const own = blocks(pkg ? read(pkg.manifest.name.replace('@sluice/', '')) : '')
  const shared = blocks(read('prelude')).filter(({ name }) => !own.some((b) => b.name === name))
  return [...shared, ...own]
}

const DECLARATION =
  /\b(?:const|let|var|function|class|type|interface|enum)\s+([\w$]+)|(?:import\s+(?:type\s+)?|(?:const|let|var)\s+)[{[]([^}\]]*)[}\]]|import\s+([\w$]+)\s+from|import\s+\*\s+as\s+([\w$]+)/g

/** The module an example becomes: its imports, the prelude's free names, then its code. */
function moduleText(example, imports) {
  const declared = new Set()
  for (const match of example.code.matchAll(DECLARATION)) {
    for (const name of (match[1] ?? match[3] ?? match[4] ?? match[2]).split(',')) {
      declared.add(
        name
          .replace(/^\s*type\s+/, '')
          .split(/\s+as\s+|:/)
          .at(-1)
          .trim(),
      )
    }
  }
  const importLines = [...imports]
    .filter(([name]) => !declared.has(name))
    .map(([name, specifier]) =>
      specifier.startsWith('default:')
        ? `import ${name} from '${specifier.slice('default:'.length)}'`
        : `import { ${name} } from '${specifier}'`,
    )
  // The prelude's blocks the example uses, and those they use in turn.
  const blocks = preludeOf(example.pkg).filter(({ name }) => !declared.has(name))
  const used = new Set()
  const mentions = (text, name) =>
    new RegExp(`(?<![\\w$.])${name.replace('$', '\\$')}\\b`).test(text)
  for (let grew = true; grew; ) {
    grew = false
    for (const block of blocks) {
      const texts = [example.code, ...[...used].map((b) => b.block)]
      if (!used.has(block) && texts.some((text) => mentions(text, block.name))) {
        used.add(block)
        grew = true
      }
    }
  }
  const freeNames = blocks
    .filter((block) => used.has(block))
    .map(({ block }) => block)
    .join('\n')
  return `${importLines.join('\n')}\n${freeNames}\n// ---- example ----\n${example.code}\nexport {}\n`
}

let previous
function compile(files) {
  const program = ts.createProgram(
    files.map((file) => file.path),
    compilerOptions(),
    undefined,
    previous,
  )
  previous = program
  return ts
    .getPreEmitDiagnostics(program)
    .filter(
      (diagnostic) => diagnostic.file && files.some((f) => f.path === diagnostic.file.fileName),
    )
}

const list = examples()
const resolveImport = importResolver()
rmSync(outDir, { recursive: true, force: true })
mkdirSync(outDir, { recursive: true })
const files = list.map((example, index) => ({
  example,
  path: join(outDir, `example-${index}.ts`),
  imports: new Map(),
}))
const write = (file) => writeFileSync(file.path, moduleText(file.example, file.imports))
files.forEach(write)

// Until no import is added: names used without importing them (the prelude's too) are imported.
let failures
for (let pass = 0; failures === undefined; pass++) {
  const diagnostics = compile(files)
  let added = 0
  for (const diagnostic of diagnostics) {
    const name = /^Cannot find name '([\w$]+)'/.exec(
      ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
    )?.[1]
    const file = files.find((f) => f.path === diagnostic.file.fileName)
    const specifier =
      name && !file.imports.has(name) && resolveImport(name, file.example, file.path)
    if (specifier) {
      file.imports.set(name, specifier)
      added++
    }
  }
  files.forEach(write)
  if (added === 0 || pass === 3) failures = diagnostics
}

for (const diagnostic of failures) {
  const file = files.find((f) => f.path === diagnostic.file.fileName)
  const text = diagnostic.file.text
  const codeStart = text.indexOf('// ---- example ----\n') + '// ---- example ----\n'.length
  const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
  const codeLine = diagnostic.file.getLineAndCharacterOfPosition(codeStart).line
  const where =
    line < codeLine
      ? `scripts/examples (prelude of ${relative(root, file.example.file)}:${file.example.line})`
      : `${relative(root, file.example.file)}:${file.example.line + line - codeLine}`
  console.error(`${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ')}`)
}
if (process.argv.includes('--list')) {
  for (const file of files)
    console.log(
      `${relative(root, file.path)} ← ${relative(root, file.example.file)}:${file.example.line}`,
    )
}
console.log(`check-examples: ${files.length} examples, ${failures.length} errors`)
rmSync(outDir, { recursive: true, force: true })
process.exitCode = failures.length === 0 ? 0 : 1
