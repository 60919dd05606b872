import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startFaultProxy } from '../faults/fault-proxy.js'
import { onProcessExit } from '../process/cleanup.js'
import { freePort } from '../process/ports.js'
import { chownTree } from '../process/run.js'
import { waitFor } from '../process/wait.js'
import { findPostgresBinaries, type PostgresEngine } from './binaries.js'
import { ReplicaServer } from './replica.js'
import { PostgresServer, type PostgresServerInfo } from './server.js'
import { cacheRoot, copyTemplate, dataTemplate } from './template.js'

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Streaming replicas to start. Default 0. */
  readonly replicas?: number
  /** Default `auto` (the `SLUICE_PG_ENGINE` environment variable overrides `auto`). */
  readonly engine?: PostgresEngine
  /**
   * Put a fault proxy in front of every server (`server.network`): the cluster's and servers'
   * URLs go through it, replication between the servers does not.
   */
  readonly proxied?: boolean
}

/** Plain data describing a cluster, e.g. handed from a vitest global setup to the tests. */
export interface PostgresClusterInfo {
  readonly engine: 'system' | 'embedded'
  readonly version: number
  readonly root: string
  readonly primary: PostgresServerInfo
  readonly replicas: readonly PostgresServerInfo[]
}

/** A database made by {@link PostgresCluster.createDatabase}, with its URLs. */
export interface TestDatabase {
  readonly name: string
  readonly url: string
  readonly replicaUrls: readonly string[]
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
  readonly #info: PostgresClusterInfo
  readonly #owner: (() => void) | undefined

  /** `owner` removes the directories and exit hook; only the starting process passes it. */
  constructor(info: PostgresClusterInfo, owner?: () => void) {
    this.#info = info
    this.#owner = owner
    this.engine = info.engine
    this.version = info.version
    this.primary = new PostgresServer(info.primary)
    this.replicas = info.replicas.map((replica) => new ReplicaServer(replica))
  }

  /** Plain data to rebuild this cluster in another process with {@link attachPostgres}. */
  get info(): PostgresClusterInfo {
    return {
      ...this.#info,
      primary: this.primary.info,
      replicas: this.replicas.map((replica) => replica.info),
    }
  }

  /** The primary's URL for a database. */
  url(database = 'postgres'): string {
    return this.primary.url(database)
  }

  /** The replicas' URLs for a database. */
  replicaUrls(database = 'postgres'): string[] {
    return this.replicas.map((replica) => replica.url(database))
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
    return { name, url: this.url(name), replicaUrls: this.replicaUrls(name) }
  }

  /** Stops every server and removes the data directories (only for a cluster this process started). */
  async stop(): Promise<void> {
    const servers = [...this.replicas, this.primary]
    await Promise.all(servers.map((server) => server.kill()))
    if (this.#owner) await Promise.all(servers.map((server) => server.network?.stop()))
    this.#owner?.()
  }
}

/**
 * Starts a primary and `replicas` streaming replicas from local binaries, on free ports, in
 * temporary directories, running as an unprivileged account when the process is root.
 * Everything is removed on `stop()` and when the process exits.
 *
 * @example
 * ```ts
 * const cluster = await startPostgres({ replicas: 2 })
 * afterAll(() => cluster.stop())
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresCluster> {
  const requested = options.engine ?? 'auto'
  const engine =
    requested === 'auto' ? ((process.env.SLUICE_PG_ENGINE as PostgresEngine) ?? 'auto') : requested
  const binaries = findPostgresBinaries(engine)
  const template = await dataTemplate(binaries)
  const root = mkdtempSync(join(cacheRoot(), 'cluster-'))
  chownTree(root)
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
  const cluster = new PostgresCluster(info, () => {
    unregister()
    removeRoot()
  })
  try {
    cluster.primary.configure([`port = ${info.primary.port}`])
    await cluster.primary.start()
    await Promise.all(cluster.replicas.map((replica) => startStandby(replica, info)))
    await cluster.waitForReplay()
    if (options.proxied) {
      for (const server of [cluster.primary, ...cluster.replicas]) {
        const { host, port } = server
        server.useNetwork(await startFaultProxy({ host, port, protocol: 'postgres' }))
      }
    }
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return cluster
}

async function startStandby(replica: ReplicaServer, info: PostgresClusterInfo): Promise<void> {
  const conninfo = `host=127.0.0.1 port=${info.primary.port} user=postgres password=${info.primary.password} application_name=${replica.name}`
  replica.configure([`port = ${replica.port}`, `primary_conninfo = '${conninfo}'`])
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
