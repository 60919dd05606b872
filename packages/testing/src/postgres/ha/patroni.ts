import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { TestServerError } from '../../errors.js'
import { ChildServer } from '../../process/child-server.js'
import { freePort } from '../../process/ports.js'
import { chownTree } from '../../process/run.js'
import { stopOnFailure } from '../../process/stop-on-failure.js'
import { waitFor } from '../../process/wait.js'
import type { PostgresServer } from '../server.js'
import {
  AgentCluster,
  type EngineService,
  type HaGround,
  prepareHa,
  type ReportedRole,
} from './agent-cluster.js'
import type { StartHaOptions } from './ha-cluster.js'
import { SupervisedNode } from './supervised-node.js'

// Patroni's defaults (ttl 30 s, loop_wait 10 s) fail over in half a minute; on loopback these
// fail over in seconds. Patroni needs loop_wait + 2 × retry_timeout <= ttl.
const DCS = { ttl: 5, loop_wait: 1, retry_timeout: 2, synchronous_mode: true }

// pg_rewind (which brings a crashed leader back onto the new timeline) needs full_page_writes
// and wal_log_hints.
const SETTINGS = {
  fsync: 'off',
  full_page_writes: 'on',
  wal_log_hints: 'on',
  shared_buffers: '32MB',
  max_connections: 300,
  wal_level: 'replica',
  hot_standby: 'on',
  wal_receiver_status_interval: '1s',
  wal_retrieve_retry_interval: '200ms',
}

interface Member {
  readonly name: string
  readonly role: string
  readonly state: string
}

/** The `patroni` and `etcd` commands, or `ENGINE_UNAVAILABLE` naming the Debian packages. */
function findCommands(): { patroni: string; etcd: string } {
  const patroni = '/usr/bin/patroni'
  const etcd = '/usr/bin/etcd'
  if (!existsSync(patroni) || !existsSync(etcd))
    throw new TestServerError(
      'ENGINE_UNAVAILABLE',
      "ha: 'patroni' needs Patroni and etcd: apt-get install patroni etcd-server",
    )
  return { patroni, etcd }
}

/** A single-node etcd on loopback: Patroni's consensus store. */
class Etcd implements EngineService {
  readonly url: string
  readonly #child: ChildServer

  constructor(command: string, root: string, clientPort: number, peerPort: number) {
    this.url = `http://127.0.0.1:${clientPort}`
    const peer = `http://127.0.0.1:${peerPort}`
    const args = [
      ...['--name', 'etcd', '--data-dir', join(root, 'etcd')],
      ...['--listen-client-urls', this.url, '--advertise-client-urls', this.url],
      ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
      ...['--initial-cluster', `etcd=${peer}`],
    ]
    this.#child = new ChildServer(command, args, join(root, 'etcd.log'), true)
  }

  async start(): Promise<void> {
    await this.#child.start(async () => {
      await waitFor(async () => (await fetch(`${this.url}/health`)).ok, {
        what: 'etcd to answer /health',
      })
    })
  }

  kill(): Promise<void> {
    return this.#child.kill()
  }

  killSync(): void {
    this.#child.killSync()
  }
}

/** One node's Patroni: it runs and supervises that node's PostgreSQL, and serves its REST API. */
class PatroniAgent extends SupervisedNode {
  /** The REST API's base URL, e.g. `http://127.0.0.1:<port>`. */
  readonly api: string

  constructor(command: string, server: PostgresServer, config: string, apiPort: number) {
    const log = `${server.dataDir}.patroni.log`
    super(server, new ChildServer(command, [config], log, true), 'Patroni')
    this.api = `http://127.0.0.1:${apiPort}`
  }
}

/**
 * A Patroni cluster: a single-node etcd and data nodes, each node's PostgreSQL run by its
 * Patroni, with `synchronous_mode`. Made by `startPostgres({ ha: 'patroni' })`.
 *
 * @example
 * ```ts
 * const ha = await startPostgres({ ha: 'patroni', nodes: 3 })
 * await fetch(ha.clusterUrls()[0]) // Patroni's own view: { members: [...] }
 * await ha.stop()
 * ```
 */
export class PatroniCluster extends AgentCluster {
  readonly ha = 'patroni' as const
  readonly #agents: readonly PatroniAgent[]

  /** @internal Made by {@link startPatroni}. */
  constructor(agents: PatroniAgent[], etcd: Etcd, root: string) {
    super(agents, [etcd], root)
    this.#agents = agents
  }

  /** Each node's REST endpoint `/cluster` (Patroni's view of the whole cluster), in node order. */
  clusterUrls(): string[] {
    return this.#agents.map((agent) => `${agent.api}/cluster`)
  }

  protected async reportedRoles(): Promise<ReportedRole[]> {
    let lastError: unknown
    for (const agent of this.#agents.filter((a) => a.running)) {
      try {
        const { members } = (await (await fetch(`${agent.api}/cluster`)).json()) as {
          members: Member[]
        }
        return await Promise.all(members.map((m) => this.#role(m, members)))
      } catch (error) {
        lastError = error // that node's API is down: ask the next
      }
    }
    throw new TestServerError('SERVER_NOT_RUNNING', 'no Patroni REST API answers', {
      cause: lastError,
    })
  }

  protected async switchover(primary: PostgresServer): Promise<void> {
    const agent = this.#agents.find((a) => a.server === primary)
    const response = await fetch(`${agent?.api}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: primary.name }),
    })
    if (!response.ok)
      throw new TestServerError(
        'SERVER_COMMAND_FAILED',
        `Patroni refused the switchover: ${response.status} ${await response.text()}`,
      )
  }

  /**
   * Patroni names the leader as soon as it holds the lock, before its server leaves recovery:
   * the leader counts as primary once its own `/primary` check answers 200 (leader and running
   * as a primary). Standbys count once Patroni has chosen a synchronous one (before that, a
   * switchover is refused: "can not find sync_standby").
   */
  async #role(member: Member, members: readonly Member[]): Promise<ReportedRole> {
    const up = member.state === 'running' || member.state === 'streaming'
    const named = (role: ReportedRole['role']) => ({ name: member.name, role: up ? role : 'other' })
    if (member.role === 'leader') {
      const agent = this.#agents.find((a) => a.server.name === member.name)
      const primary = await fetch(`${agent?.api}/primary`).then(
        (r) => r.ok,
        () => false,
      )
      return named(primary ? 'primary' : 'other')
    }
    const chosen = members.some((m) => m.role === 'sync_standby')
    const standby = member.role === 'replica' || member.role === 'sync_standby'
    return named(standby && chosen ? 'standby' : 'other')
  }

  /** @internal */
  start(): Promise<void> {
    return this.startAll((agent) => agent.start())
  }
}

/** Patroni's configuration of one node (JSON, which YAML reads as is). */
async function configure(
  ground: HaGround,
  node: PostgresServer,
  etcdUrl: string,
  apiPort: number,
): Promise<string> {
  const { root, template } = ground
  const password = template.password
  const config = {
    scope: 'sluice',
    name: node.name,
    restapi: { listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}` },
    etcd3: { hosts: etcdUrl.replace('http://', '') },
    bootstrap: {
      dcs: { ...DCS, postgresql: { use_pg_rewind: true, parameters: SETTINGS } },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, { 'auth-host': 'scram-sha-256' }],
      pg_hba: [
        'local all all trust',
        'host replication replicator 127.0.0.1/32 scram-sha-256',
        'host all all 127.0.0.1/32 scram-sha-256',
      ],
    },
    postgresql: {
      listen: `${node.host}:${node.port}`,
      connect_address: `${node.host}:${node.port}`,
      data_dir: node.dataDir,
      bin_dir: ground.binaries.binDir,
      pgpass: `${node.dataDir}.pgpass`,
      authentication: {
        superuser: { username: 'postgres', password },
        replication: { username: 'replicator', password },
        rewind: { username: 'postgres', password },
      },
      parameters: { unix_socket_directories: root },
    },
  }
  const file = join(root, `${node.name}.patroni.yml`)
  writeFileSync(file, JSON.stringify(config, null, 2))
  chownTree(file)
  return file
}

/**
 * Starts a single-node etcd and `nodes` Patroni nodes (from the Debian packages `patroni` and
 * `etcd-server`), with short `ttl` / `loop_wait` / `retry_timeout` and `synchronous_mode`.
 */
export async function startPatroni(options: StartHaOptions): Promise<PatroniCluster> {
  const commands = findCommands()
  const ground = await prepareHa(options)
  const etcd = new Etcd(commands.etcd, ground.root, await freePort(), await freePort())
  const agents = await Promise.all(
    (await ground.nodes()).map(async (node) => {
      const apiPort = await freePort()
      const config = await configure(ground, node, etcd.url, apiPort)
      return new PatroniAgent(commands.patroni, node, config, apiPort)
    }),
  )
  const cluster = new PatroniCluster(agents, etcd, ground.root)
  await stopOnFailure(
    () => cluster.stop(),
    () => cluster.start(),
  )
  return cluster
}
