import { createDatabase, parseConfig, type SluiceDatabase } from '@sluice/core'
import { databaseName } from '@sluice/testing'
import { withProfile } from '@sluice/testing/profile'
import { sharedPostgres } from '@sluice/testing/vitest'
import { type Kysely, sql } from 'kysely'
import { afterAll } from 'vitest'

const databases: SluiceDatabase<unknown>[] = []
afterAll(() => Promise.all(databases.map((database) => database.close())))

/**
 * A new database on the shared server: its Kysely client (with the test profile's
 * instrumentation) and client URL (through PgBouncer in the production profile).
 */
export async function freshDatabase(): Promise<{ db: Kysely<unknown>; url: string }> {
  const { url, env } = await sharedPostgres().createDatabase(databaseName('parts'))
  const database = createDatabase<unknown>(
    parseConfig({ ...env, DB_POOL_SIZE: '6' }),
    withProfile({}),
  )
  databases.push(database)
  return { db: database.db, url }
}

/** Each attached partition of `table` with its bounds as the server prints them. */
export async function bounds(db: Kysely<unknown>, table: string) {
  const { rows } = await sql<{ name: string; bound: string }>`
    select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${table}::regclass order by c.relname`.execute(db)
  return rows
}

/** The partition (or default) that holds each row of `table`, as PostgreSQL routed it. */
export async function rowsByPartition(db: Kysely<unknown>, table: string) {
  const { rows } = await sql<{ partition: string; rows: number }>`
    select tableoid::regclass::text as partition, count(*)::int as rows
    from ${sql.table(table)} group by 1 order by 1`.execute(db)
  return rows
}
