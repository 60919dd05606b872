import { databaseName } from '@sluice/testing'
import { withProfile } from '@sluice/testing/profile'
import { sharedPostgres } from '@sluice/testing/vitest'
import { type Kysely, sql } from 'kysely'
import { expect } from 'vitest'
import {
  createDatabase,
  type DatabaseOptions,
  parseConfig,
  type SluiceConfig,
  type SluiceDatabase,
} from '../src/index.js'

/**
 * A new database on the shared cluster: its client URL and environment (through PgBouncer in
 * the production profile; the server itself with `direct`, for tests of session state that a
 * pooler in transaction mode does not keep) and a Sluice config for it.
 */
export async function freshDatabase(
  overrides: Record<string, unknown> = {},
  { direct = false }: { direct?: boolean } = {},
): Promise<{
  url: string
  /** The server itself, even in the production profile. */
  directUrl: string
  env: Readonly<Record<string, string>>
  config: SluiceConfig
  name: string
}> {
  const name = databaseName('core')
  const database = await sharedPostgres().createDatabase(name)
  const url = direct ? database.directUrl : database.url
  const env = direct ? { DATABASE_URL: url } : database.env
  return {
    url,
    directUrl: database.directUrl,
    env,
    name,
    config: parseConfig({ ...env, ...overrides }),
  }
}

/** `createDatabase` with the test profile's instrumentation added (see `withProfile`). */
export function testDatabase<DB>(
  config: SluiceConfig,
  options: DatabaseOptions = {},
): SluiceDatabase<DB> {
  return createDatabase<DB>(config, withProfile(options))
}

/** Replaces the password of a URL. */
export function withPassword(url: string, password: string): string {
  const parsed = new URL(url)
  parsed.password = password
  return parsed.toString()
}

/**
 * Holds a connection of `db` (whose pool has one) and runs a query that waits for another:
 * it must fail with POOL_TIMEOUT. One query runs on the held connection first.
 */
export async function timeOutWaitingForPool<DB>(db: Kysely<DB>): Promise<void> {
  await db.connection().execute(async (held) => {
    await sql`select 1`.execute(held)
    const error = await sql`select 2`.execute(db).catch((e) => e)
    expect(error).toMatchObject({ code: 'POOL_TIMEOUT' })
  })
}
