#!/usr/bin/env node
// The dependency rule, checked on every source file of packages/*/src:
// - a package imports a sibling only through a public entry of the sibling's exports map
//   (or `@sluice/core/internal`), never a sibling's other paths, and never leaves its own
//   directory with a relative import;
// - core's code (comments aside) imports nothing of a sibling and names nothing a sibling
//   exports;
// - cache and partitions never depend on router, and no package's runtime code depends on
//   @sluice/testing (a test fixture) unless it is testing itself;
// - every sibling a package imports is declared in its dependencies or peerDependencies.
// Tests may import what their devDependencies declare. Usage: node scripts/check-dependencies.mjs
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const packages = readdirSync(join(root, 'packages')).map((dir) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'))
  return { dir: join(root, 'packages', dir), name: manifest.name, manifest }
})
const byName = new Map(packages.map((pkg) => [pkg.name, pkg]))

/** Runtime dependencies a package may not have (besides those its manifest does not declare). */
const FORBIDDEN = {
  '@sluice/core': packages.map((pkg) => pkg.name).filter((name) => name !== '@sluice/core'),
  '@sluice/cache': ['@sluice/router', '@sluice/testing'],
  '@sluice/partitions': ['@sluice/router', '@sluice/testing'],
  '@sluice/router': ['@sluice/testing'],
}

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** Module specifiers of a file: static and dynamic imports, re-exports and `import('…')` types. */
function specifiers(text) {
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)].map(
    (match) => ({ specifier: match[1], line: text.slice(0, match.index).split('\n').length }),
  )
}

/** A file's code without its comments and strings, for the "names a sibling" check. */
function codeOnly(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ' '))
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, (string) =>
      /^'@sluice\//.test(string) ? string : string.replace(/[^\n]/g, ' '),
    )
}

/** The names a package's entries export (`export { a, type B }`, `export function c` ...). */
function exportedNames(pkg) {
  const names = new Set()
  for (const entry of Object.values(pkg.manifest.exports ?? {})) {
    if (!entry['sluice:source']) continue
    const text = readFileSync(join(pkg.dir, entry['sluice:source']), 'utf8')
    for (const [, list] of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
      for (const item of list.split(',')) {
        const name = item
          .replace(/^\s*type\s+/, '')
          .split(/\s+as\s+/)
          .at(-1)
          .trim()
        if (name) names.add(name)
      }
    }
    for (const [, name] of text.matchAll(
      /export\s+(?:declare\s+)?(?:async\s+)?(?:function|class|interface|type|const)\s+([\w$]+)/g,
    )) {
      names.add(name)
    }
  }
  return names
}

const coreNames = exportedNames(byName.get('@sluice/core'))
const siblingNames = new Map(
  FORBIDDEN['@sluice/core'].flatMap((name) =>
    [...exportedNames(byName.get(name))].filter((n) => !coreNames.has(n)).map((n) => [n, name]),
  ),
)

const problems = []
for (const pkg of packages) {
  const { dependencies = {}, peerDependencies = {} } = pkg.manifest
  const declared = new Set([...Object.keys(dependencies), ...Object.keys(peerDependencies)])
  for (const file of sources(join(pkg.dir, 'src'))) {
    const text = readFileSync(file, 'utf8')
    const where = (line) => `${relative(root, file)}:${line}`
    for (const { specifier, line } of specifiers(text)) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier)
        if (!target.startsWith(`${pkg.dir}/`)) {
          problems.push(`${where(line)}: '${specifier}' leaves ${pkg.name}`)
        }
        continue
      }
      const [, name, subpath] = /^(@sluice\/[^/]+)(\/.*)?$/.exec(specifier) ?? []
      if (!name || name === pkg.name) continue
      const sibling = byName.get(name)
      const entry = `.${subpath ?? ''}`
      if (!sibling)
        problems.push(`${where(line)}: '${specifier}' is not a package of this repository`)
      else if (!(entry in (sibling.manifest.exports ?? {}))) {
        problems.push(`${where(line)}: '${specifier}' is not a public entry of ${name}`)
      } else if (entry.includes('internal') && name !== '@sluice/core') {
        problems.push(
          `${where(line)}: '${specifier}': only @sluice/core/internal is shared plumbing`,
        )
      }
      if (FORBIDDEN[pkg.name]?.includes(name)) {
        problems.push(`${where(line)}: ${pkg.name} must not depend on ${name}`)
      } else if (!declared.has(name)) {
        problems.push(`${where(line)}: ${name} is not in ${pkg.name}'s dependencies`)
      }
    }
    if (pkg.name === '@sluice/core') {
      const code = codeOnly(text)
      for (const match of code.matchAll(/@sluice\/[\w-]+|[A-Za-z_$][\w$]*/g)) {
        const sibling = match[0].startsWith('@sluice/')
          ? FORBIDDEN['@sluice/core'].find((name) => name === match[0])
          : siblingNames.get(match[0])
        if (sibling) {
          const line = code.slice(0, match.index).split('\n').length
          problems.push(
            `${where(line)}: core names ${match[0]} of ${sibling} (core knows nothing of its siblings)`,
          )
        }
      }
    }
  }
}

for (const problem of problems) console.error(problem)
console.log(`check-dependencies: ${problems.length} problems`)
process.exitCode = problems.length === 0 ? 0 : 1
