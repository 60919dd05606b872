import { defineConfig } from 'vitest/config'

/**
 * One vitest project per package and PostgreSQL engine: every PostgreSQL test runs on
 * PostgreSQL 15 (system) and 18 (embedded). Files run in forks, two at a time (2 cores).
 */
const engines = [
  { name: 'pg15', engine: 'system' },
  { name: 'pg18', engine: 'embedded' },
] as const

const packageProject = (pkg: string, engine: (typeof engines)[number]) => ({
  extends: true as const,
  test: {
    name: `${pkg}:${engine.name}`,
    root: `packages/${pkg}`,
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    env: { SLUICE_PG_ENGINE: engine.engine },
  },
})

export default defineConfig({
  resolve: { conditions: ['sluice:source'] },
  ssr: { resolve: { conditions: ['sluice:source'] } },
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: ['core', 'testing'].flatMap((pkg) =>
      engines.map((engine) => packageProject(pkg, engine)),
    ),
  },
})
