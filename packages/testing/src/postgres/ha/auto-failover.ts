import { join } from 'node:path'
import { stopOnFailure } from '../../process/stop-on-failure.js'
import type { PostgresBinaries } from '../binaries.js'
import type { PostgresServer } from '../server.js'
import { copyTemplate, type DataTemplate } from '../template.js'
import { AgentCluster, prepareHa, type ReportedRole } from './agent-cluster.js'
import type { StartHaOptions } from './ha-cluster.js'
import { findPgAutoctl, PgAutoctl, prepareForAutoctl } from './pg-autoctl.js'

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
export class AutoFailoverCluster extends AgentCluster {
  readonly ha = 'pg_auto_failover' as const
  /** The monitor's PostgreSQL (database `pg_auto_failover`). */
  readonly monitor: PostgresServer
  readonly #autoctl: PgAutoctl

  /** @internal Made by {@link startAutoFailover}. */
  constructor(autoctl: PgAutoctl, monitor: PostgresServer, nodes: PostgresServer[], root: string) {
    super(
      nodes.map((node) => autoctl.service(node)),
      [autoctl.service(monitor)],
      root,
    )
    this.#autoctl = autoctl
    this.monitor = monitor
  }

  protected async reportedRoles(): Promise<ReportedRole[]> {
    const states = await this.monitor.query<NodeState>(
      "select nodename, current_group_state::text, assigned_group_state::text from pgautofailover.current_state('default')",
      [],
      'pg_auto_failover',
    )
    // A state counts once the node reached what the monitor assigned it.
    return states.map((s) => ({
      name: s.nodename,
      role:
        s.current_group_state !== s.assigned_group_state
          ? 'other'
          : s.current_group_state === 'primary'
            ? 'primary'
            : s.current_group_state === 'secondary'
              ? 'standby'
              : 'other',
    }))
  }

  protected async switchover(): Promise<void> {
    await this.#autoctl.run(['perform', 'failover', '--pgdata', this.monitor.dataDir])
  }

  /** @internal Starts the monitor's service, then node 1, then the standbys (cloned from it). */
  async start(autoctlArgs: (node: PostgresServer) => string[]): Promise<void> {
    await this.startAll(async (keeper) => {
      const node = keeper.server
      await this.#autoctl.run(['create', 'postgres', ...autoctlArgs(node)])
      await this.#autoctl.configure(node.dataDir, KEEPER_SETTINGS)
      await keeper.start()
    })
  }
}

/**
 * Starts a pg_auto_failover monitor and `nodes` data nodes from the Debian package
 * `postgresql-<N>-auto-failover`, with the monitor's timeouts shortened (a crash fails over in
 * seconds on loopback) and the engine's synchronous replication (`number_sync_standbys` 1).
 */
export async function startAutoFailover(options: StartHaOptions): Promise<AutoFailoverCluster> {
  const ground = await prepareHa(options)
  const { binaries, template, root } = ground
  const autoctl = new PgAutoctl(findPgAutoctl(binaries), binaries, root)
  const monitor = await ground.server('monitor')
  const nodes = await ground.nodes()
  const cluster = new AutoFailoverCluster(autoctl, monitor, nodes, root)
  await stopOnFailure(
    () => cluster.stop(),
    async () => {
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
    },
  )
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
