import { parseConfig, type SluiceConfig } from '@sluice/core'
import {
  type FaultProxy,
  type PgBouncer,
  type PostgresCluster,
  startFaultProxy,
  startPgBouncer,
  startPostgres,
  testProfile,
  waitFor,
} from '@sluice/testing'
import { withProfile } from '@sluice/testing/profile'
import { type Generated, type Kysely, sql } from 'kysely'
import {
  createRoutedDatabase,
  type ReplicaStrategy,
  type RoutedDatabase,
  type RouteEvent,
  type RouterInstrumentation,
  type RouterOptions,
} from '../src/index.js'

/** The test schema every cluster starts with. */
export interface DB {
  items: { id: Generated<number>; name: string }
}

/**
 * How the router reaches the servers: directly, or each through its own PgBouncer. The
 * production test profile puts every server behind PgBouncer, so it runs `pgbouncer` only.
 */
export type Via = 'direct' | 'pgbouncer'
const profile = testProfile()
export const VIAS: readonly Via[] =
  profile.name === 'production' ? ['pgbouncer'] : ['direct', 'pgbouncer']

/** A primary, two replicas, optionally a PgBouncer (transaction mode) in front of each. */
export interface TestCluster {
  readonly cluster: PostgresCluster
  readonly bouncers: readonly PgBouncer[]
  /**
   * With `proxied`, the fault proxy on the router's link to each server (primary first): in
   * front of the server itself, or in front of its PgBouncer.
   */
  readonly networks: readonly FaultProxy[]
  /** Server label by PostgreSQL port, as `inet_server_port()` reports it. */
  readonly labelOf: (port: number) => string
  config(overrides?: Record<string, unknown>): SluiceConfig
  stop(): Promise<void>
}

export async function startTestCluster(
  via: Via,
  options: {
    readonly proxied?: boolean
    /** PgBouncers restarted when they exit on their own; default: the test profile's. */
    readonly supervised?: boolean
  } = {},
): Promise<TestCluster> {
  const cluster = await startPostgres({
    replicas: 2,
    applyDelayMs: profile.postgres.applyDelayMs,
    proxied: options.proxied && via === 'direct',
  })
  await cluster.primary.query('create table items (id serial primary key, name text not null)')
  await cluster.primary.query('create sequence item_numbers')
  await cluster.waitForReplay()
  const servers = [cluster.primary, ...cluster.replicas]
  const bouncers =
    via === 'pgbouncer'
      ? await Promise.all(
          servers.map((upstream) =>
            startPgBouncer({
              upstream,
              supervised: options.supervised ?? profile.pgbouncer.supervised,
            }),
          ),
        )
      : []
  // Behind PgBouncer, the faults go on the link between the router and each PgBouncer.
  const bouncerNetworks =
    options.proxied && via === 'pgbouncer'
      ? await Promise.all(
          bouncers.map(({ host, port }) => startFaultProxy({ host, port, protocol: 'postgres' })),
        )
      : []
  const networks = bouncerNetworks.length
    ? bouncerNetworks
    : servers.flatMap((server) => (server.network ? [server.network] : []))
  const url = (index: number) => {
    const bouncer = bouncers[index]
    if (!bouncer) return (servers[index] as (typeof servers)[number]).url()
    const through = new URL(bouncer.url())
    through.port = String(bouncerNetworks[index]?.port ?? bouncer.port)
    return through.toString()
  }
  const labels = new Map(servers.map((server, index) => [server.port, serverLabel(index)]))
  return {
    cluster,
    bouncers,
    networks,
    labelOf: (port) => labels.get(port) ?? `unknown port ${port}`,
    config: (overrides = {}) =>
      parseConfig({
        DATABASE_URL: url(0),
        DATABASE_REPLICA_URLS: [url(1), url(2)].join(','),
        DB_POOLER_MODE: via === 'pgbouncer' ? 'transaction' : 'none',
        DB_POOL_TIMEOUT: '5s',
        ...overrides,
      }),
    stop: async () => {
      await Promise.all(bouncerNetworks.map((network) => network.stop()))
      await Promise.all(bouncers.map((bouncer) => bouncer.stop()))
      await cluster.stop()
    },
  }
}

/** `createRoutedDatabase` with the test profile's instrumentation added (see `withProfile`). */
export function testRoutedDatabase<DB>(
  config: SluiceConfig,
  options: RouterOptions = {},
): RoutedDatabase<DB> {
  return createRoutedDatabase<DB>(config, withProfile(options))
}

function serverLabel(index: number): string {
  return index === 0 ? 'primary' : `replica-${index}`
}

/** Runs a routed read that returns the port of the server that answered it. */
export async function readPort<D>(db: Kysely<D>): Promise<number> {
  const row = await (db as unknown as Kysely<DB>)
    .selectNoFrom(sql<number>`inet_server_port()`.as('port'))
    .executeTakeFirstOrThrow()
  return row.port
}

/** Counts reads per server label, as the servers reported them. */
export async function countReads<D>(
  db: Kysely<D>,
  labelOf: (port: number) => string,
  reads: number,
  concurrency = 10,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  let left = reads
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) {
        const label = labelOf(await readPort(db))
        counts[label] = (counts[label] ?? 0) + 1
      }
    }),
  )
  return counts
}

/** Records routing events. */
export function routeRecorder(): RouterInstrumentation & { events: RouteEvent[] } {
  const events: RouteEvent[] = []
  return { events, onRoute: (event) => events.push(event) }
}

export { waitFor }

/** A strategy that sends reads to `label` whenever it is a candidate (and otherwise to the first). */
export function preferring(label: string): ReplicaStrategy {
  return {
    name: `prefer-${label}`,
    pick: (candidates) =>
      Math.max(
        0,
        candidates.findIndex((replica) => replica.label === label),
      ),
  }
}

/** Backends of `application` on `server` that are not idle, as `pg_stat_activity` shows them. */
export async function busyBackends(
  server: { query: PostgresCluster['primary']['query'] },
  application: string,
): Promise<number> {
  const rows = await server.query<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where application_name = $1 and state <> 'idle'",
    [application],
  )
  return rows[0]?.n ?? 0
}

/**
 * Runs `work` beside a plain timer of `deadlineMs` started at the same moment, and returns how
 * much later than that timer `work` finished (negative: sooner). On a loaded machine timers
 * fire late; a deadline is kept when the work ends no later than a timer of the same length.
 */
export async function lateness(deadlineMs: number, work: () => Promise<unknown>): Promise<number> {
  const reference = new Promise<number>((resolve) =>
    setTimeout(() => resolve(performance.now()), deadlineMs),
  )
  await work()
  const finished = performance.now()
  return finished - (await reference)
}

/**
 * Opens `size` connections on `db`'s pool, `batch` at a time, and gives them back idle: the
 * pool is then as warm as a service's after its first requests. For fault tests whose subject
 * is not a cold start: a herd of cold logins through PgBouncer outlasts the connect deadline on
 * a loaded machine.
 */
export async function warmPool<D>(db: Kysely<D>, size: number, batch: number): Promise<void> {
  let releaseAll = () => {}
  const released = new Promise<void>((resolve) => {
    releaseAll = resolve
  })
  const holders: Promise<void>[] = []
  try {
    for (let opened = 0; opened < size; opened += batch) {
      const batchOpened = Array.from({ length: Math.min(batch, size - opened) }, () => {
        let connected = () => {}
        const onConnected = new Promise<void>((resolve) => {
          connected = resolve
        })
        const holder = db.connection().execute(async (connection) => {
          await sql`select 1`.execute(connection)
          connected()
          await released
        })
        holders.push(holder)
        return Promise.race([onConnected, holder])
      })
      await Promise.all(batchOpened)
    }
  } finally {
    releaseAll()
    await Promise.all(holders)
  }
}
