#!/usr/bin/env node
// Public API = documented API, checked on each package's public entries (its exports map,
// internal subpaths aside):
// - every value an entry exports (functions, classes, constants) is named in the package's
//   README, so nothing reaches users that they cannot read about;
// - nothing an entry exports is marked `@internal` in its TSDoc: sibling plumbing belongs in
//   an internal subpath (`@sluice/core/internal`).
// Types are exempt from the README rule: they are the shapes of documented calls.
// Usage: node scripts/check-public-api.mjs
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const problems = []

const packages = readdirSync(join(root, 'packages')).map((dir) => {
  const pkgDir = join(root, 'packages', dir)
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))
  const entries = Object.entries(manifest.exports ?? {})
    .filter(([subpath, target]) => !subpath.includes('internal') && target['sluice:source'])
    .map(([subpath, target]) => ({
      name: `${manifest.name}${subpath === '.' ? '' : subpath.slice(1)}`,
      file: join(pkgDir, target['sluice:source']),
    }))
  return { dir, entries, readme: readFileSync(join(pkgDir, 'README.md'), 'utf8') }
})

// One program for every entry: the packages share most of their sources.
const program = ts.createProgram(
  packages.flatMap((pkg) => pkg.entries.map((entry) => entry.file)),
  {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['sluice:source'],
    noEmit: true,
  },
)
const checker = program.getTypeChecker()
for (const { dir, entries, readme } of packages) {
  for (const entry of entries) {
    const source = program.getSourceFile(entry.file)
    const moduleSymbol = source && checker.getSymbolAtLocation(source)
    if (!moduleSymbol) {
      problems.push(`${entry.name}: its source ${entry.file} was not found`)
      continue
    }
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol =
        exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
      const name = exported.getName()
      if (symbol.getJsDocTags().some((tag) => tag.name === 'internal')) {
        problems.push(
          `${entry.name}: ${name} is marked @internal; export it from an internal subpath`,
        )
      }
      // A type-only export (`export type { X }`) of a class is a type to its users.
      const typeOnly = exported.declarations?.some((declaration) =>
        ts.isExportSpecifier(declaration)
          ? declaration.isTypeOnly || declaration.parent.parent.isTypeOnly
          : false,
      )
      const isValue = !typeOnly && (symbol.flags & ts.SymbolFlags.Value) !== 0
      if (isValue && !new RegExp(`\\b${name}\\b`).test(readme)) {
        problems.push(
          `${entry.name}: ${name} is exported but packages/${dir}/README.md never names it`,
        )
      }
    }
  }
}

for (const problem of problems) console.error(problem)
console.log(`check-public-api: ${problems.length} problems`)
process.exitCode = problems.length > 0 ? 1 : 0
