import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { TestServerError } from '../errors.js'
import { startFaultProxy } from '../faults/fault-proxy.js'
import { type PgBouncer, startPgBouncer } from '../pgbouncer.js'
import { onProcessExit } from '../process/cleanup.js'
import { freePort } from '../process/ports.js'
import { chownTree } from '../process/run.js'
import { stopOnFailure } from '../process/stop-on-failure.js'
import { waitFor } from '../process/wait.js'
import { makeWorkDir } from '../process/work-dir.js'
import { findPostgresBinaries, type PostgresEngine } from './binaries.js'
import { type AutoFailoverCluster, startAutoFailover } from './ha/auto-failover.js'
import type { StartHaOptions } from './ha/ha-cluster.js'
import { type PatroniCluster, startPatroni } from './ha/patroni.js'
import { ReplicaServer } from './replica.js'
import { PostgresServer, type PostgresServerInfo } from './server.js'
import { copyTemplate, dataTemplate } from './template.js'

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Streaming replicas to start. Default 0. */
  readonly replicas?: number
  /** Default `auto` (the `SLUICE_PG_ENGINE` environment variable overrides `auto`). */
  readonly engine?: PostgresEngine
  /**
   * Put a fault proxy in front of every server (`server.network`): the cluster's and servers'
   * URLs go through it, and so do the PgBouncers of `pgbouncer`; replication between the
   * servers does not.
   */
  readonly proxied?: boolean
  /**
   * Put a PgBouncer in this pool mode in front of every server (primary and replicas); the
   * URLs of {@link PostgresCluster.createDatabase} then go through them. Default `false`.
   */
  readonly pgbouncer?: 'session' | 'transaction' | false
  /**
   * Run the PgBouncers of `pgbouncer` under a supervisor that restarts one that exited (see
   * `StartPgBouncerOptions.supervised`). Default `false`; the production test profile sets it.
   */
  readonly supervisePgBouncers?: boolean
  /**
   * Every replica applies each commit this long after the primary made it
   * (`recovery_min_apply_delay`, from the first start). Default 0.
   */
  readonly applyDelayMs?: number
}

/** The PgBouncers in front of a cluster's servers: primary first, then the replicas in order. */
export interface PgBouncerFront {
  readonly poolMode: 'session' | 'transaction'
  readonly ports: readonly number[]
}

/** Plain data describing a cluster, e.g. handed from a vitest global setup to the tests. */
export interface PostgresClusterInfo {
  readonly engine: 'system' | 'embedded'
  readonly version: number
  readonly root: string
  readonly primary: PostgresServerInfo
  readonly replicas: readonly PostgresServerInfo[]
  /** Set when the cluster was started with `pgbouncer`. */
  readonly pgbouncer?: PgBouncerFront
}

/** A database made by {@link PostgresCluster.createDatabase}, with its URLs. */
export interface TestDatabase {
  readonly name: string
  /** The primary's URL for clients: through its PgBouncer when the cluster has them. */
  readonly url: string
  /** The replicas' URLs for clients: through their PgBouncers when the cluster has them. */
  readonly replicaUrls: readonly string[]
  /** The primary itself, for what a pooler cannot do (session features, replication control). */
  readonly directUrl: string
  /** The replicas themselves. */
  readonly directReplicaUrls: readonly string[]
  /**
   * The environment a service would get: `DATABASE_URL`, `DATABASE_REPLICA_URLS` (when there
   * are replicas) and `DB_POOLER_MODE` (`none`, or the PgBouncers' pool mode). Spread it into
   * `parseConfig` so a test runs unchanged behind PgBouncer.
   */
  readonly env: Readonly<Record<string, string>>
}

/**
 * A real PostgreSQL primary with streaming replicas.
 *
 * @example
 * ```ts
 * const cluster = await startPostgres({ replicas: 2, engine: 'system' })
 * const { url, replicaUrls } = await cluster.createDatabase('orders_test')
 * // ... run the code under test against url / replicaUrls ...
 * await cluster.stop()
 * ```
 */
export class PostgresCluster {
  readonly engine: 'system' | 'embedded'
  readonly version: number
  readonly primary: PostgresServer
  readonly replicas: readonly ReplicaServer[]
  /** The PgBouncers in front of the servers (only in the process that started them). */
  readonly pgbouncers: readonly PgBouncer[]
  readonly #info: PostgresClusterInfo
  readonly #owner: (() => void) | undefined

  /**
   * `owner` removes the directories and exit hook, and `pgbouncers` is filled as they start;
   * only the starting process passes them.
   */
  constructor(
    info: PostgresClusterInfo,
    owner?: () => void,
    pgbouncers: readonly PgBouncer[] = [],
  ) {
    this.#info = info
    this.#owner = owner
    this.pgbouncers = pgbouncers
    this.engine = info.engine
    this.version = info.version
    this.primary = new PostgresServer(info.primary)
    this.replicas = info.replicas.map((replica) => new ReplicaServer(replica))
  }

  /** Plain data to rebuild this cluster in another process with {@link attachPostgres}. */
  get info(): PostgresClusterInfo {
    const base = {
      ...this.#info,
      primary: this.primary.info,
      replicas: this.replicas.map((replica) => replica.info),
    }
    const [first] = this.pgbouncers
    if (!first) return base
    const poolMode = first.poolMode as PgBouncerFront['poolMode']
    return { ...base, pgbouncer: { poolMode, ports: this.pgbouncers.map((b) => b.port) } }
  }

  /** The primary's URL for a database. */
  url(database = 'postgres'): string {
    return this.primary.url(database)
  }

  /** The replicas' URLs for a database. */
  replicaUrls(database = 'postgres'): string[] {
    return this.replicas.map((replica) => replica.url(database))
  }

  /** The URLs clients use: through the PgBouncers when the cluster has them, else the servers'. */
  clientUrls(database = 'postgres'): { url: string; replicaUrls: string[] } {
    const ports = this.info.pgbouncer?.ports
    const through = (url: string, index: number) => {
      const port = ports?.[index]
      if (port === undefined) return url
      const parsed = new URL(url)
      parsed.port = String(port)
      return parsed.toString()
    }
    return {
      url: through(this.url(database), 0),
      replicaUrls: this.replicaUrls(database).map((url, i) => through(url, i + 1)),
    }
  }

  /** Waits until every running replica has replayed everything the primary has written. */
  async waitForReplay(timeoutMs = 30_000): Promise<void> {
    const [row] = await this.primary.query<{ lsn: string }>(
      'select pg_current_wal_lsn()::text as lsn',
    )
    const target = row?.lsn ?? '0/0'
    await Promise.all(
      this.replicas
        .filter((replica) => replica.running)
        .map((replica) =>
          waitFor(
            async () => {
              const [caught] = await replica.query<{ ok: boolean }>(
                'select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok',
                [target],
              )
              return caught?.ok === true
            },
            { timeoutMs, what: `${replica.name} to replay up to ${target}` },
          ),
        ),
    )
  }

  /**
   * Creates a database (optionally from a template database) for one test file or test,
   * and waits until the replicas have it.
   */
  async createDatabase(
    name: string,
    { template }: { template?: string } = {},
  ): Promise<TestDatabase> {
    const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`
    await this.primary.query(
      `create database ${quote(name)}${template ? ` template ${quote(template)}` : ''}`,
    )
    await this.waitForReplay()
    const { url, replicaUrls } = this.clientUrls(name)
    const env: Record<string, string> = {
      DATABASE_URL: url,
      DB_POOLER_MODE: this.info.pgbouncer?.poolMode ?? 'none',
    }
    if (replicaUrls.length > 0) env.DATABASE_REPLICA_URLS = replicaUrls.join(',')
    return {
      name,
      url,
      replicaUrls,
      directUrl: this.url(name),
      directReplicaUrls: this.replicaUrls(name),
      env,
    }
  }

  /**
   * Stops every server (and PgBouncer) and removes the data directories (only for a cluster
   * this process started).
   */
  async stop(): Promise<void> {
    await Promise.all(this.pgbouncers.map((bouncer) => bouncer.stop()))
    const servers = [...this.replicas, this.primary]
    await Promise.all(servers.map((server) => server.kill()))
    if (this.#owner) await Promise.all(servers.map((server) => server.network?.stop()))
    this.#owner?.()
  }
}

/**
 * Starts a primary and `replicas` streaming replicas from local binaries, on free ports, in
 * temporary directories, running as an unprivileged account when the process is root,
 * optionally each behind a PgBouncer (`pgbouncer`) and with an apply delay (`applyDelayMs`).
 * Everything is removed on `stop()` and when the process exits.
 *
 * @example
 * ```ts
 * const cluster = await startPostgres({ replicas: 2, pgbouncer: 'transaction' })
 * const { env } = await cluster.createDatabase('orders_test') // DATABASE_URL through PgBouncer
 * afterAll(() => cluster.stop())
 * ```
 */
export async function startPostgres(options?: StartPostgresOptions): Promise<PostgresCluster>
/**
 * Starts a cluster whose primary an HA engine elects and fails over (see {@link HaCluster}):
 * `ha: 'pg_auto_failover'` (a monitor and `nodes` data nodes, synchronous replication) or
 * `ha: 'patroni'` (etcd and `nodes` Patroni nodes, `synchronous_mode`).
 *
 * @example
 * ```ts
 * const ha = await startPostgres({ ha: 'pg_auto_failover', nodes: 3 })
 * ha.url() // postgres://postgres:<pw>@127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>/postgres?target_session_attrs=read-write
 * afterAll(() => ha.stop())
 * ```
 */
export async function startPostgres(
  options: StartHaOptions & { ha: 'pg_auto_failover' },
): Promise<AutoFailoverCluster>
/** A Patroni cluster (see {@link PatroniCluster}). */
export async function startPostgres(
  options: StartHaOptions & { ha: 'patroni' },
): Promise<PatroniCluster>
export async function startPostgres(
  options: StartPostgresOptions | StartHaOptions = {},
): Promise<PostgresCluster | AutoFailoverCluster | PatroniCluster> {
  if ('ha' in options) {
    if (options.ha === 'pg_auto_failover') return startAutoFailover(options)
    if (options.ha === 'patroni') return startPatroni(options)
    throw new TestServerError('INVALID_TARGET', `unknown ha engine ${String(options.ha)}`)
  }
  return startStreamingCluster(options)
}

async function startStreamingCluster(options: StartPostgresOptions): Promise<PostgresCluster> {
  const requested = options.engine ?? 'auto'
  const engine =
    requested === 'auto' ? ((process.env.SLUICE_PG_ENGINE as PostgresEngine) ?? 'auto') : requested
  const binaries = findPostgresBinaries(engine)
  const template = await dataTemplate(binaries)
  const root = makeWorkDir('cluster')
  const serverInfo = async (name: string): Promise<PostgresServerInfo> => {
    const dataDir = join(root, name)
    copyTemplate(template, dataDir)
    return {
      name,
      port: await freePort(),
      dataDir,
      binDir: binaries.binDir,
      password: template.password,
    }
  }
  const info: PostgresClusterInfo = {
    engine: binaries.engine,
    version: binaries.version,
    root,
    primary: await serverInfo('primary'),
    replicas: await Promise.all(
      Array.from({ length: options.replicas ?? 0 }, (_, i) => serverInfo(`replica-${i + 1}`)),
    ),
  }
  const removeRoot = () => rmSync(root, { recursive: true, force: true })
  const unregister = onProcessExit(() => {
    for (const server of [cluster.primary, ...cluster.replicas]) server.killSync()
    removeRoot()
  })
  const pgbouncers: PgBouncer[] = []
  const cluster = new PostgresCluster(
    info,
    () => {
      unregister()
      removeRoot()
    },
    pgbouncers,
  )
  await stopOnFailure(
    () => cluster.stop(),
    async () => {
      cluster.primary.configure([`port = ${info.primary.port}`])
      await cluster.primary.start()
      const delay = Math.max(0, Math.trunc(options.applyDelayMs ?? 0))
      await Promise.all(cluster.replicas.map((replica) => startStandby(replica, info, delay)))
      await cluster.waitForReplay()
      if (options.proxied) {
        for (const server of [cluster.primary, ...cluster.replicas]) {
          const { host, port } = server
          server.useNetwork(await startFaultProxy({ host, port, protocol: 'postgres' }))
        }
      }
      const poolMode = options.pgbouncer
      if (poolMode) {
        const servers = [cluster.primary, ...cluster.replicas]
        for (const upstream of servers)
          pgbouncers.push(
            await startPgBouncer({ upstream, poolMode, supervised: options.supervisePgBouncers }),
          )
      }
    },
  )
  return cluster
}

async function startStandby(
  replica: ReplicaServer,
  info: PostgresClusterInfo,
  applyDelayMs: number,
): Promise<void> {
  const conninfo = `host=127.0.0.1 port=${info.primary.port} user=postgres password=${info.primary.password} application_name=${replica.name}`
  replica.configure([
    `port = ${replica.port}`,
    `primary_conninfo = '${conninfo}'`,
    `recovery_min_apply_delay = '${applyDelayMs}ms'`,
  ])
  const signal = join(replica.dataDir, 'standby.signal')
  writeFileSync(signal, '')
  chownTree(signal)
  await replica.start()
}

/**
 * Rebuilds a cluster handle from {@link PostgresClusterInfo} (e.g. one a vitest global setup
 * provided). Its controls work; `stop()` stops the servers but leaves the directories to the
 * process that started them.
 *
 * @example
 * ```ts
 * const cluster = attachPostgres(inject('sluicePostgres'))
 * const { url } = await cluster.createDatabase(`t_${process.pid}`)
 * ```
 */
export function attachPostgres(info: PostgresClusterInfo): PostgresCluster {
  return new PostgresCluster(info)
}
