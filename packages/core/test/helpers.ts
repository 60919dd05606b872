import { sharedPostgres } from '@sluice/testing/vitest'
import { type Kysely, sql } from 'kysely'
import { expect } from 'vitest'
import { parseConfig, type SluiceConfig } from '../src/index.js'

let counter = 0

/** A new database on the shared cluster, and a Sluice config for it. */
export async function freshDatabase(
  overrides: Record<string, unknown> = {},
): Promise<{ url: string; config: SluiceConfig; name: string }> {
  const name = `core_${process.pid}_${++counter}`
  const { url } = await sharedPostgres().createDatabase(name)
  return { url, name, config: parseConfig({ DATABASE_URL: url, ...overrides }) }
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
