import { setTimeout as delay } from 'node:timers/promises'
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
  /** The server itself, never through PgBouncer: for a session that watches the others. */
  directUrl: string
  env: Readonly<Record<string, string>>
  open(settings?: Record<string, string>): Kysely<unknown>
}> {
  const { url, directUrl, env } = await sharedPostgres().createDatabase(databaseName('parts'))
  const open = (settings: Record<string, string> = {}) => {
    const database = openDatabase(env, settings)
    databases.push(database)
    return database.db
  }
  return { db: open(), url, directUrl, env, open }
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

/**
 * A plain client of `url` (a session of its own, e.g. to hold a lock), ended after the test;
 * `name` is its `application_name`, by which {@link lockSnapshot} tells sessions apart.
 */
export async function connectClient(url: string, name?: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: name })
  await client.connect()
  clients.push(client)
  return client
}

/**
 * Runs `query` on its own client (named `name`) in a loop until the returned `stop()`:
 * traffic for the server to see blocked or not. `runs()` is how many times it went through.
 */
export async function probe(
  url: string,
  name: string,
  query: string,
): Promise<{ runs(): number; stop(): Promise<number> }> {
  const client = await connectClient(url, name)
  let running = true
  let runs = 0
  const loop = (async () => {
    for (; running; runs++) await client.query(query)
  })()
  return {
    runs: () => runs,
    stop: async () => {
      running = false
      await loop
      return runs
    },
  }
}

/** One relation lock of the test's database, as the server's lock table shows it. */
export interface LockRow {
  /** The `application_name` of the session that holds or waits for it. */
  readonly app: string
  readonly relation: string
  readonly mode: string
  readonly granted: boolean
  /** How long it has waited so far, by the server's clock (0 when granted). */
  readonly waitedMs: number
  /** The `application_name` of each session it waits behind (`pg_blocking_pids`). */
  readonly behind: readonly string[]
}

/**
 * Every relation lock of the client's database held or awaited by another session, now: what the
 * server saw, not what the test timed. Run it on a direct client (`directUrl`): through
 * PgBouncer it could queue behind the very traffic it watches.
 */
export async function lockSnapshot(client: pg.Client): Promise<LockRow[]> {
  const { rows } = await client.query<LockRow>(`
    select a.application_name as app, l.relation::regclass::text as relation, l.mode, l.granted,
      coalesce(round(extract(epoch from clock_timestamp() - l.waitstart) * 1000), 0)::int as "waitedMs",
      array(select b.application_name from pg_stat_activity b
        where b.pid = any (pg_blocking_pids(l.pid)) order by 1) as behind
    from pg_locks l join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'relation' and l.database = (select oid from pg_database where datname = current_database())
      and a.pid <> pg_backend_pid()`)
  return rows
}

/**
 * Takes {@link lockSnapshot}s on a direct client of `directUrl` one after another until the
 * returned `stop()`, which resolves to all of them.
 */
export async function watchLocks(directUrl: string): Promise<{ stop(): Promise<LockRow[][]> }> {
  const client = await connectClient(directUrl, 'watcher')
  let running = true
  const samples: LockRow[][] = []
  const loop = (async () => {
    // A few milliseconds apart: the two cores are shared with the traffic it watches.
    while (running) {
      samples.push(await lockSnapshot(client))
      await delay(5)
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return samples
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
