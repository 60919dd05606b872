import { parseConfig } from '@sluice/core'
import { createRoutedDatabase, type RoutedDatabase, type RouterOptions } from '@sluice/router'
import { type PostgresCluster, startPostgres, testProfile } from '@sluice/testing'
import { withProfile } from '@sluice/testing/profile'
import { sql } from 'kysely'
import { freshNamespace, type TestCache, testCache } from '../helpers.js'

/** One row per workload: its `value` is the version the history checker compares. */
export interface CounterDB {
  counters: { id: number; value: number }
}

/**
 * A primary and two replicas applying every commit `applyDelayMs` late, a routed database over
 * them whose commits invalidate through the writer's `invalidateOnCommit`, and two app
 * instances (each with L1, on one Redis namespace and its bus) reading through the router.
 */
export interface LaggingCluster {
  readonly cluster: PostgresCluster
  /** The database's name on every server (for queries to one server directly). */
  readonly databaseName: string
  readonly database: RoutedDatabase<CounterDB>
  /** Each records its events (`events`). */
  readonly writer: TestCache
  readonly reader: TestCache
  /** Creates row `id` with value 0, replayed by every replica before their delay starts. */
  counter(id: number): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts a {@link LaggingCluster}; with `pgbouncer` (and always in the production profile) the
 * router reaches every server through a PgBouncer in transaction mode.
 *
 * @example
 * ```ts
 * const lagging = await startLaggingCluster({ applyDelayMs: 500, pgbouncer: false })
 * ```
 */
export async function startLaggingCluster(options: {
  readonly applyDelayMs: number
  readonly pgbouncer: boolean
  /** Connections per server pool (`DB_POOL_SIZE`); the config's default without it. */
  readonly poolSize?: number
}): Promise<LaggingCluster> {
  const production = testProfile().name === 'production'
  const cluster = await startPostgres({
    replicas: 2,
    pgbouncer: options.pgbouncer || production ? 'transaction' : false,
  })
  const { env, name: databaseName } = await cluster.createDatabase('lagging')
  let writer: TestCache | undefined
  const routerOptions: RouterOptions = {
    lagCheckIntervalMs: 100,
    // The caches are made below: the closure reads the writer once writes commit.
    afterCommit: (tables, commit) => writer?.invalidateOnCommit(tables, commit),
  }
  const config = parseConfig({
    ...env,
    ...(options.poolSize !== undefined && { DB_POOL_SIZE: String(options.poolSize) }),
  })
  const database = createRoutedDatabase<CounterDB>(config, withProfile(routerOptions))
  await sql`create table counters (id int primary key, value int not null)`.execute(
    database.primary,
  )
  const namespace = freshNamespace()
  writer = testCache({ namespace, consistency: database })
  const reader = testCache({ namespace, consistency: database })
  await Promise.all([writer.ready(), reader.ready()])
  const setDelay = (ms: number) =>
    Promise.all(cluster.replicas.map((replica) => replica.setApplyDelay(ms)))
  return {
    cluster,
    databaseName,
    database,
    writer,
    reader,
    counter: async (id) => {
      await setDelay(0)
      await database.primary.insertInto('counters').values({ id, value: 0 }).execute()
      await cluster.waitForReplay()
      await setDelay(options.applyDelayMs)
    },
    stop: async () => {
      await setDelay(0).catch(() => undefined)
      await database.close()
      await cluster.stop()
    },
  }
}
