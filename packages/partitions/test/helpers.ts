import type { SluiceDatabase } from '@sluice/core'
import { databaseName } from '@sluice/testing'
import { monthlySpec } from '@sluice/testing/partitions'
import { sharedPostgres } from '@sluice/testing/vitest'
import { type Kysely, sql } from 'kysely'
import pg from 'pg'
import { afterAll, afterEach } from 'vitest'
import type { PartitionSpec, PartitionSpecInput } from '../src/index.js'
import { openDatabase } from './open-database.js'

const databases: SluiceDatabase<unknown>[] = []
afterAll(() => Promise.all(databases.map((database) => database.close())))

/**
 * A new database on the shared server: its Kysely client (with the test profile's
 * instrumentation), client URL (through PgBouncer in the production profile), the
 * environment a service of it would get, and `open` for another client of it with other
 * settings (e.g. a runner of its own, `DB_POOL_SIZE` 1).
 */
export async function freshDatabase(): Promise<{
  db: Kysely<unknown>
  url: string
  env: Readonly<Record<string, string>>
  open(settings?: Record<string, string>): Kysely<unknown>
}> {
  const { url, env } = await sharedPostgres().createDatabase(databaseName('parts'))
  const open = (settings: Record<string, string> = {}) => {
    const database = openDatabase(env, settings)
    databases.push(database)
    return database.db
  }
  return { db: open(), url, env, open }
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

const clients: pg.Client[] = []
afterEach(() => Promise.all(clients.splice(0).map((client) => client.end())))

/** A plain client of `url` (a session of its own, e.g. to hold a lock), ended after the test. */
export async function connectClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  clients.push(client)
  return client
}

/**
 * Runs `query` on its own client in a loop until the returned `stop()`, which resolves to
 * the longest time one run took: how long traffic of that kind was blocked.
 */
export async function probe(url: string, query: string): Promise<{ stop(): Promise<number> }> {
  const client = await connectClient(url)
  let running = true
  let longest = 0
  const loop = (async () => {
    while (running) {
      const started = performance.now()
      await client.query(query)
      longest = Math.max(longest, performance.now() - started)
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return longest
    },
  }
}

/**
 * The tests' usual spec: `monthlySpec` (monthly on column `at`, one month premade) with a
 * default partition; `overrides` change any of it.
 */
export function monthly(table: string, overrides: Partial<PartitionSpecInput> = {}): PartitionSpec {
  return monthlySpec(table, { defaultPartition: true, ...overrides })
}
