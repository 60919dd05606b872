import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { defineConfig } from 'vitest/config'

/**
 * Tests run against the packages' TypeScript sources, not their builds: every
 * `"sluice:source"` entry of a package's exports map becomes an alias.
 */
function sourceAliases() {
  return readdirSync('packages').flatMap((dir) => {
    const manifest = JSON.parse(readFileSync(join('packages', dir, 'package.json'), 'utf8'))
    const exports: Record<string, { 'sluice:source'?: string }> = manifest.exports ?? {}
    return Object.entries(exports)
      .filter(([, entry]) => entry['sluice:source'])
      .map(([subpath, entry]) => ({
        find: new RegExp(`^${join(manifest.name, subpath)}$`),
        replacement: resolve('packages', dir, entry['sluice:source'] as string),
      }))
  })
}

/**
 * One vitest project per package and PostgreSQL engine: every PostgreSQL test runs on
 * PostgreSQL 15 (system) and 18 (embedded). Files run in forks, two at a time (2 cores).
 * The `<pkg>:prod` projects run the same tests in the production profile (every server behind
 * PgBouncer in transaction mode, instrumentation registered, replicas with an apply delay,
 * Redis with a password; see @sluice/testing's README), on PostgreSQL 15 only to keep CI short.
 * The long fault workloads (`test/faults/`) run on `<pkg>:pg15` and `<pkg>:prod` only.
 */
const engines = [
  { name: 'pg15', engine: 'system' },
  { name: 'pg18', engine: 'embedded' },
] as const

const packageProject = (pkg: string, name: string, env: Record<string, string>) => ({
  extends: true as const,
  test: {
    name: `${pkg}:${name}`,
    root: `packages/${pkg}`,
    include: ['test/**/*.test.ts'],
    // Long fault workloads (test/faults/) run on PostgreSQL 15, directly and in the production
    // profile; not on 18.
    exclude: name === 'pg18' ? ['test/faults/**'] : [],
    globalSetup: ['test/global-setup.ts'],
    env,
  },
})

const production = { SLUICE_PG_ENGINE: 'system', SLUICE_TEST_PROFILE: 'production' }

export default defineConfig({
  resolve: { alias: sourceAliases() },
  test: {
    pool: 'forks',
    execArgv: ['--expose-gc'],
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      ...['cache', 'core', 'observability', 'partitions', 'router', 'testing'].flatMap((pkg) =>
        engines.map((engine) =>
          packageProject(pkg, engine.name, { SLUICE_PG_ENGINE: engine.engine }),
        ),
      ),
      ...['cache', 'core', 'observability', 'partitions', 'router'].map((pkg) =>
        packageProject(pkg, 'prod', production),
      ),
    ],
  },
})
