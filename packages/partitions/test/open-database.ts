import { createDatabase, parseConfig, type SluiceDatabase } from '@sluice/core'
import { withProfile } from '@sluice/testing/profile'

/**
 * A database client of the tests' environment `env` (`DATABASE_URL`, `DB_POOLER_MODE`...)
 * with `settings` over it (pool size 6 unless they say), and the test profile's instrumentation. Without vitest: maintenance processes of their own
 * (processes/) open theirs with it too.
 */
export function openDatabase(
  env: Readonly<Record<string, string>>,
  settings: Readonly<Record<string, string>> = {},
): SluiceDatabase<unknown> {
  return createDatabase<unknown>(
    parseConfig({ ...env, DB_POOL_SIZE: '6', ...settings }),
    withProfile({}),
  )
}
