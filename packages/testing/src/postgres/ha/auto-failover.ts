import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { TestServerError } from '../../errors.js'
import { onProcessExit } from '../../process/cleanup.js'
import { freePort } from '../../process/ports.js'
import { waitFor } from '../../process/wait.js'
import { makeWorkDir } from '../../process/work-dir.js'
import { findPostgresBinaries, type PostgresBinaries } from '../binaries.js'
import { PostgresServer } from '../server.js'
import { copyTemplate, type DataTemplate, dataTemplate } from '../template.js'
import type { HaCluster, HaDatabase, StartHaOptions, WaitForPrimaryOptions } from './ha-cluster.js'
import { type AutoctlService, findPgAutoctl, PgAutoctl, prepareForAutoctl } from './pg-autoctl.js'

// The monitor's defaults detect a dead primary in ~20 s and wait 30 s more for it to drain;
// on loopback a crash fails over in seconds with these (milliseconds).
const MONITOR_SETTINGS = [
  "shared_preload_libraries = 'pgautofailover,pg_stat_statements'",
  'pgautofailover.health_check_period = 500',
  'pgautofailover.health_check_timeout = 500',
  'pgautofailover.health_check_max_retries = 1',
  'pgautofailover.health_check_retry_delay = 200',
  'pgautofailover.node_considered_unhealthy_timeout = 1500',
  'pgautofailover.primary_demote_timeout = 2000',
  'pgautofailover.startup_grace_period = 1000',
]

// The keepers' timeouts (seconds). A primary cut off from the monitor and every standby
// demotes itself after network_partition_timeout: it must stay below the monitor's
// primary_demote_timeout, or a partitioned old primary could still accept writes when the
// new one is promoted.
const KEEPER_SETTINGS = {
  'timeout.network_partition_timeout': 1,
  'timeout.prepare_promotion_walreceiver': 2,
  'timeout.postgresql_restart_failure_timeout': 5,
}

interface NodeState {
  readonly nodename: string
  readonly current_group_state: string
  readonly assigned_group_state: string
}

/**
 * A pg_auto_failover formation: a monitor and data nodes, each node's PostgreSQL run by its
 * keeper (`pg_autoctl run`). Made by `startPostgres({ ha: 'pg_auto_failover' })`.
 *
 * @example
 * ```ts
 * const ha = await startPostgres({ ha: 'pg_auto_failover', nodes: 3 })
 * await ha.failover()
 * await ha.stop()
 * ```
 */
export class AutoFailoverCluster implements HaCluster {
  readonly ha = 'pg_auto_failover' as const
  readonly nodes: readonly PostgresServer[]
  /** The monitor's PostgreSQL (database `pg_auto_failover`). */
  readonly monitor: PostgresServer
  readonly #autoctl: PgAutoctl
  readonly #keepers: readonly AutoctlService[]
  readonly #monitorService: AutoctlService
  readonly #cleanUp: () => void

  /** @internal Made by {@link startAutoFailover}. */
  constructor(autoctl: PgAutoctl, monitor: PostgresServer, nodes: PostgresServer[], root: string) {
    this.#autoctl = autoctl
    this.monitor = monitor
    this.nodes = nodes
    this.#monitorService = autoctl.service(monitor)
    this.#keepers = nodes.map((node) => autoctl.service(node))
    const services = [...this.#keepers, this.#monitorService]
    const unregister = onProcessExit(() => {
      for (const service of services) service.killSync()
      rmSync(root, { recursive: true, force: true })
    })
    this.#cleanUp = () => {
      unregister()
      rmSync(root, { recursive: true, force: true })
    }
  }

  url(database = 'postgres'): string {
    const [first] = this.nodes
    const credentials = new URL(first?.directUrl() ?? 'postgres://127.0.0.1').password
    const hosts = this.nodes.map((node) => `${node.host}:${node.port}`).join(',')
    return `postgres://postgres:${credentials}@${hosts}/${database}?target_session_attrs=read-write`
  }

  nodeUrls(database = 'postgres'): string[] {
    return this.nodes.map((node) => node.directUrl(database))
  }

  async reportedPrimary(): Promise<PostgresServer | undefined> {
    const primary = (await this.#states()).find(
      (s) => s.current_group_state === 'primary' && s.assigned_group_state === 'primary',
    )
    return primary && this.#node(primary.nodename)
  }

  async waitForPrimary({
    timeoutMs = 60_000,
  }: WaitForPrimaryOptions = {}): Promise<PostgresServer> {
    return waitFor(
      async () => {
        const states = await this.#states()
        const settled = (s: NodeState, state: string) =>
          s.current_group_state === state && s.assigned_group_state === state
        // A crashed node stays "primary" on the monitor until it notices: only running nodes count.
        const running = states.filter((s) => this.#keeperOf(s.nodename).running)
        const primaries = running.filter((s) => settled(s, 'primary'))
        const standbysSettled = running
          .filter((s) => !primaries.includes(s))
          .every((s) => settled(s, 'secondary'))
        const [primary] = primaries
        return primaries.length === 1 && standbysSettled && primary && this.#node(primary.nodename)
      },
      { timeoutMs, what: 'the pg_auto_failover monitor to report a primary and its secondaries' },
    )
  }

  async failover(): Promise<PostgresServer> {
    const before = await this.waitForPrimary()
    await this.#autoctl.run(['perform', 'failover', '--pgdata', this.monitor.dataDir])
    return waitFor(
      async () => {
        const primary = await this.waitForPrimary()
        return primary !== before && primary
      },
      { timeoutMs: 60_000, what: 'a new primary after perform failover' },
    )
  }

  async crashPrimary(): Promise<PostgresServer> {
    const primary = await this.waitForPrimary()
    await this.#keeperOf(primary.name).kill()
    return primary
  }

  async revive(node: PostgresServer): Promise<void> {
    const keeper = this.#keeperOf(node.name)
    await keeper.start()
    await waitFor(
      async () => {
        const state = (await this.#states()).find((s) => s.nodename === node.name)
        return (
          state?.current_group_state === 'secondary' && state.assigned_group_state === 'secondary'
        )
      },
      { timeoutMs: 120_000, what: `${node.name} to rejoin as a secondary` },
    )
  }

  async createDatabase(name: string): Promise<HaDatabase> {
    const primary = await this.waitForPrimary()
    await primary.query(`create database "${name.replaceAll('"', '""')}"`)
    const running = this.nodes.filter((node) => this.#keeperOf(node.name).running)
    await Promise.all(
      running.map((node) =>
        waitFor(
          async () =>
            (await node.query('select 1 from pg_database where datname = $1', [name])).length > 0,
          { what: `${node.name} to replay the creation of ${name}` },
        ),
      ),
    )
    return { name, url: this.url(name), nodeUrls: this.nodeUrls(name) }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#keepers.map((keeper) => keeper.kill()))
    await this.#monitorService.kill()
    this.#cleanUp()
  }

  /** @internal Starts the monitor's service, then node 1, then the standbys (cloned from it). */
  async start(autoctlArgs: (node: PostgresServer) => string[]): Promise<void> {
    await this.#monitorService.start()
    const [first, ...standbys] = this.nodes
    const join = async (node: PostgresServer) => {
      await this.#autoctl.run(['create', 'postgres', ...autoctlArgs(node)])
      await this.#autoctl.configure(node.dataDir, KEEPER_SETTINGS)
      await this.#keeperOf(node.name).start()
    }
    if (first) await join(first)
    await Promise.all(standbys.map(join))
    await this.waitForPrimary({ timeoutMs: 120_000 })
  }

  #states(): Promise<NodeState[]> {
    return this.monitor.query<NodeState>(
      "select nodename, current_group_state::text, assigned_group_state::text from pgautofailover.current_state('default')",
      [],
      'pg_auto_failover',
    )
  }

  #node(name: string): PostgresServer {
    const node = this.nodes.find((n) => n.name === name)
    if (!node)
      throw new TestServerError('SERVER_NOT_RUNNING', `the monitor reports an unknown node ${name}`)
    return node
  }

  #keeperOf(name: string): AutoctlService {
    const keeper = this.#keepers.find((k) => k.server.name === name)
    if (!keeper)
      throw new TestServerError('INVALID_TARGET', `${name} is not a node of this cluster`)
    return keeper
  }
}

/**
 * Starts a pg_auto_failover monitor and `nodes` data nodes from the Debian package
 * `postgresql-<N>-auto-failover`, with the monitor's timeouts shortened (a crash fails over in
 * seconds on loopback) and the engine's synchronous replication (`number_sync_standbys` 1).
 */
export async function startAutoFailover(options: StartHaOptions): Promise<AutoFailoverCluster> {
  const count = options.nodes ?? 3
  if (!Number.isInteger(count) || count < 2)
    throw new TestServerError('INVALID_TARGET', `ha needs 2 or more nodes, got ${count}`)
  const requested = options.engine ?? 'auto'
  const binaries = findPostgresBinaries(requested === 'auto' ? 'system' : requested)
  const command = findPgAutoctl(binaries)
  const template = await dataTemplate(binaries)
  const root = makeWorkDir('cluster')
  const autoctl = new PgAutoctl(command, binaries, root)
  const server = async (name: string) => {
    const info = { name, port: await freePort(), dataDir: join(root, name) }
    return new PostgresServer({ ...info, binDir: binaries.binDir, password: template.password })
  }
  const monitor = await server('monitor')
  const nodes = await Promise.all(Array.from({ length: count }, (_, i) => server(`node${i + 1}`)))
  const cluster = new AutoFailoverCluster(autoctl, monitor, nodes, root)
  try {
    await createMonitor(autoctl, binaries, template, monitor, root)
    const monitorUrl = `postgres://autoctl_node@${monitor.host}:${monitor.port}/pg_auto_failover?sslmode=disable`
    const [first] = nodes
    if (first) {
      copyTemplate(template, first.dataDir)
      prepareForAutoctl(first.dataDir, root, [])
    }
    await cluster.start((node) => [
      ...['--pgdata', node.dataDir, '--pgport', String(node.port), '--pgctl', autoctl.pgCtl],
      ...['--listen', node.host, '--hostname', node.host, '--name', node.name],
      ...['--monitor', monitorUrl, '--skip-pg-hba', '--no-ssl'],
    ])
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return cluster
}

async function createMonitor(
  autoctl: PgAutoctl,
  binaries: PostgresBinaries,
  template: DataTemplate,
  monitor: PostgresServer,
  root: string,
): Promise<void> {
  copyTemplate(template, monitor.dataDir)
  prepareForAutoctl(monitor.dataDir, root, MONITOR_SETTINGS)
  await autoctl.run([
    ...['create', 'monitor', '--pgdata', monitor.dataDir, '--pgport', String(monitor.port)],
    ...['--pgctl', join(binaries.binDir, 'pg_ctl'), '--hostname', monitor.host],
    ...['--skip-pg-hba', '--no-ssl'],
  ])
  await autoctl.configure(monitor.dataDir, { 'postgresql.listen_addresses': monitor.host })
}
