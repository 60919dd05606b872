import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { TestServerError } from '../../errors.js'
import { processTree } from '../../faults/freeze.js'
import { ChildServer } from '../../process/child-server.js'
import { procStat } from '../../process/proc-stat.js'
import { chownTree, run } from '../../process/run.js'
import type { PostgresBinaries } from '../binaries.js'
import type { PostgresServer } from '../server.js'
import { SupervisedNode } from './supervised-node.js'

/**
 * pg_autoctl of the `postgresql-<N>-auto-failover` package, for these server binaries;
 * `ENGINE_UNAVAILABLE` naming the package when it or the monitor's extension is missing.
 */
export function findPgAutoctl(binaries: PostgresBinaries): string {
  const library = join(binaries.binDir, '..', 'lib', 'pgautofailover.so')
  const command = [join(binaries.binDir, 'pg_autoctl'), '/usr/bin/pg_autoctl'].find(existsSync)
  if (binaries.engine !== 'system' || !command || !existsSync(library))
    throw new TestServerError(
      'ENGINE_UNAVAILABLE',
      `ha: 'pg_auto_failover' needs pg_autoctl and the pgautofailover extension for the system PostgreSQL ${binaries.version}: apt-get install postgresql-${binaries.version}-auto-failover`,
    )
  return command
}

/**
 * Runs pg_autoctl for one cluster: as the server account, with its configuration, state and
 * pid files under the cluster's directory (XDG_*), and local connections on the cluster's
 * Unix socket directory, so nothing lands in the account's home.
 */
export class PgAutoctl {
  readonly command: string
  readonly pgCtl: string
  readonly env: NodeJS.ProcessEnv

  constructor(command: string, binaries: PostgresBinaries, root: string) {
    this.command = command
    this.pgCtl = join(binaries.binDir, 'pg_ctl')
    const dirs = { XDG_CONFIG_HOME: 'config', XDG_DATA_HOME: 'share', XDG_RUNTIME_DIR: 'run' }
    for (const dir of Object.values(dirs)) mkdirSync(join(root, dir), { mode: 0o700 })
    chownTree(root)
    const xdg = Object.fromEntries(Object.entries(dirs).map(([k, dir]) => [k, join(root, dir)]))
    this.env = { ...process.env, ...xdg, HOME: root, PGHOST: root }
  }

  /** `pg_autoctl <args>`, waiting for it; fails with its output (`SERVER_COMMAND_FAILED`). */
  run(args: readonly string[]): Promise<string> {
    return run(this.command, args, { env: this.env })
  }

  /** `pg_autoctl config set --pgdata <dataDir> <name> <value>` for each setting. */
  async configure(dataDir: string, settings: Readonly<Record<string, string | number>>) {
    for (const [name, value] of Object.entries(settings))
      await this.run(['config', 'set', '--pgdata', dataDir, name, String(value)])
  }

  /** The long-running `pg_autoctl run` (the keeper, or the monitor's service) of a node. */
  service(server: PostgresServer): AutoctlService {
    return new AutoctlService(this, server)
  }
}

/**
 * One node's `pg_autoctl run`: it starts and supervises that node's PostgreSQL. `kill()` is a
 * crash of the machine: the pg_autoctl processes are SIGKILLed, then the server is stopped in
 * immediate mode (as {@link PostgresServer.kill} does, so no shared memory is left behind).
 */
export class AutoctlService extends SupervisedNode {
  constructor(autoctl: PgAutoctl, server: PostgresServer) {
    const log = join(dirname(server.dataDir), `${server.name}.autoctl.log`)
    const args = ['run', '--pgdata', server.dataDir]
    super(server, new ChildServer(autoctl.command, args, log, true, autoctl.env), 'pg_autoctl')
  }

  override async kill(): Promise<void> {
    this.#killAgents()
    await super.kill()
  }

  override killSync(): void {
    this.#killAgents()
    super.killSync()
  }

  /** SIGKILLs every pg_autoctl process of this node (the supervisor first): none restarts PostgreSQL. */
  #killAgents(): void {
    const pid = this.agent.pid
    if (pid === undefined) return
    for (const member of processTree(pid)) {
      if (procStat(member)?.command !== 'pg_autoctl') continue
      try {
        process.kill(member, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
  }

  logTail(): string {
    return this.agent.logTail()
  }
}

/**
 * Lets pg_auto_failover's own roles in without a password (its monitor's health checks, the
 * nodes' registration, replication and pg_rewind), ahead of the template's password rules,
 * and puts the Unix socket where pg_autoctl's local connections look (`PGHOST`).
 */
export function prepareForAutoctl(dataDir: string, socketDir: string, settings: string[]): void {
  const hba = join(dataDir, 'pg_hba.conf')
  const trusted = [
    'host pg_auto_failover autoctl_node 127.0.0.1/32 trust',
    'host all pgautofailover_monitor 127.0.0.1/32 trust',
    'host all pgautofailover_replicator 127.0.0.1/32 trust',
    'host replication pgautofailover_replicator 127.0.0.1/32 trust',
  ]
  writeFileSync(hba, `${trusted.join('\n')}\n${readFileSync(hba, 'utf8')}`)
  const conf = join(dataDir, 'postgresql.conf')
  const lines = [`unix_socket_directories = '${socketDir}'`, ...settings]
  writeFileSync(conf, `${readFileSync(conf, 'utf8')}${lines.join('\n')}\n`)
}
