import { rmSync } from 'node:fs'
import { TestServerError } from '../../errors.js'
import { onProcessExit } from '../../process/cleanup.js'
import { freePort } from '../../process/ports.js'
import { waitFor } from '../../process/wait.js'
import { makeWorkDir } from '../../process/work-dir.js'
import { findPostgresBinaries, type PostgresBinaries } from '../binaries.js'
import { PostgresServer } from '../server.js'
import { type DataTemplate, dataTemplate } from '../template.js'
import type {
  HaCluster,
  HaDatabase,
  HaEngine,
  StartHaOptions,
  WaitForPrimaryOptions,
} from './ha-cluster.js'

/** A process of the engine (its monitor, its consensus store, a node's agent). */
export interface EngineService {
  /** Starts it and waits until it answers. */
  start(): Promise<void>
  /** A crash of the machine: it dies at once, with what it supervises. */
  kill(): Promise<void>
  /** Synchronous {@link kill}, for exit handlers. */
  killSync(): void
}

/** A process that runs and supervises one server (a pg_auto_failover keeper, a Patroni). */
export interface NodeAgent extends EngineService {
  readonly server: PostgresServer
  readonly running: boolean
}

/** What the engine says a node is now. */
export interface ReportedRole {
  readonly name: string
  readonly role: 'primary' | 'standby' | 'other'
}

/**
 * The controls every HA engine shares, over its agents (one per node) and its own services
 * (a monitor, a consensus store); the engine supplies what it reports and how it switches over.
 */
export abstract class AgentCluster implements HaCluster {
  abstract readonly ha: HaEngine
  readonly nodes: readonly PostgresServer[]
  readonly #agents: readonly NodeAgent[]
  readonly #services: readonly EngineService[]
  readonly #cleanUp: () => void

  constructor(agents: readonly NodeAgent[], services: readonly EngineService[], root: string) {
    this.#agents = agents
    this.#services = services
    this.nodes = agents.map((agent) => agent.server)
    const unregister = onProcessExit(() => {
      for (const agent of [...agents, ...services]) agent.killSync()
      rmSync(root, { recursive: true, force: true })
    })
    this.#cleanUp = () => {
      unregister()
      rmSync(root, { recursive: true, force: true })
    }
  }

  /** What the engine reports for each node it knows. */
  protected abstract reportedRoles(): Promise<ReportedRole[]>

  /** Asks the engine for a planned switchover away from `primary`, and waits for its answer. */
  protected abstract switchover(primary: PostgresServer): Promise<void>

  url(database = 'postgres'): string {
    const password = new URL(this.nodes[0]?.directUrl() ?? 'postgres://127.0.0.1').password
    const hosts = this.nodes.map((node) => `${node.host}:${node.port}`).join(',')
    return `postgres://postgres:${password}@${hosts}/${database}?target_session_attrs=read-write`
  }

  nodeUrls(database = 'postgres'): string[] {
    return this.nodes.map((node) => node.directUrl(database))
  }

  async reportedPrimary(): Promise<PostgresServer | undefined> {
    const primary = (await this.#runningRoles()).find((r) => r.role === 'primary')
    return primary && this.node(primary.name)
  }

  async waitForPrimary({
    timeoutMs = 60_000,
  }: WaitForPrimaryOptions = {}): Promise<PostgresServer> {
    return waitFor(
      async () => {
        const roles = await this.#runningRoles()
        const primaries = roles.filter((r) => r.role === 'primary')
        const [primary] = primaries
        const settled = roles.every((r) => r.role !== 'other')
        return primaries.length === 1 && settled && primary && this.node(primary.name)
      },
      { timeoutMs, what: `${this.ha} to report a primary and every other node a standby` },
    )
  }

  async failover(): Promise<PostgresServer> {
    const before = await this.waitForPrimary()
    await this.switchover(before)
    return waitFor(
      async () => {
        const primary = await this.waitForPrimary()
        return primary !== before && primary
      },
      { timeoutMs: 60_000, what: `a new primary after the ${this.ha} switchover` },
    )
  }

  async crashPrimary(): Promise<PostgresServer> {
    const primary = await this.waitForPrimary()
    await this.#agentOf(primary).kill()
    return primary
  }

  async revive(node: PostgresServer): Promise<void> {
    await this.#agentOf(node).start()
    await waitFor(
      async () =>
        (await this.reportedRoles()).some((r) => r.name === node.name && r.role === 'standby'),
      { timeoutMs: 120_000, what: `${node.name} to rejoin as a standby` },
    )
    // Engines may report a standby before its WAL receiver connects (Patroni's "running"), or
    // while it still streams the old timeline and is about to be rewound and restarted.
    await waitFor(
      async () => {
        const primary = await this.reportedPrimary()
        if (!primary) return false
        const [current] = await primary.query<{ tli: number }>(
          "select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int as tli",
        )
        const [receiver] = await node.query<{ status: string; port: number; tli: number }>(
          'select status, sender_port as port, received_tli as tli from pg_stat_wal_receiver',
        )
        return (
          receiver?.status === 'streaming' &&
          receiver.port === primary.port &&
          receiver.tli === current?.tli
        )
      },
      { timeoutMs: 60_000, what: `${node.name} to stream the primary's timeline` },
    )
  }

  async createDatabase(name: string): Promise<HaDatabase> {
    const primary = await this.waitForPrimary()
    await primary.query(`create database "${name.replaceAll('"', '""')}"`)
    const running = this.#agents.filter((agent) => agent.running).map((agent) => agent.server)
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
    await Promise.all(this.#agents.map((agent) => agent.kill()))
    for (const service of this.#services) await service.kill()
    this.#cleanUp()
  }

  /** Starts the engine's services, then the first node's agent, then the others together. */
  protected async startAll(join: (agent: NodeAgent) => Promise<void>): Promise<void> {
    for (const service of this.#services) await service.start()
    const [first, ...others] = this.#agents
    if (first) await join(first)
    await Promise.all(others.map(join))
    await this.waitForPrimary({ timeoutMs: 120_000 })
  }

  protected node(name: string): PostgresServer {
    const node = this.nodes.find((n) => n.name === name)
    if (!node)
      throw new TestServerError('INVALID_TARGET', `${this.ha} reports an unknown node ${name}`)
    return node
  }

  // A crashed node may stay "primary" in the engine's view until it notices: only running nodes count.
  async #runningRoles(): Promise<ReportedRole[]> {
    const running = new Set(this.#agents.filter((a) => a.running).map((a) => a.server.name))
    return (await this.reportedRoles()).filter((r) => running.has(r.name))
  }

  #agentOf(node: PostgresServer): NodeAgent {
    const agent = this.#agents.find((a) => a.server === node)
    if (!agent)
      throw new TestServerError('INVALID_TARGET', `${node.name} is not a node of this cluster`)
    return agent
  }
}

/** What every HA engine starts from: the system binaries, the data template, a working directory. */
export interface HaGround {
  readonly binaries: PostgresBinaries
  readonly template: DataTemplate
  readonly root: string
  /** A server handle on a free port in `root` (not started), with the template's password. */
  server(name: string): Promise<PostgresServer>
  /** The handles of nodes `node1`...`node<N>`. */
  nodes(): Promise<PostgresServer[]>
}

/** Checks `options` and prepares an {@link HaGround}; `INVALID_TARGET` for fewer than 2 nodes. */
export async function prepareHa(options: StartHaOptions): Promise<HaGround> {
  const count = options.nodes ?? 3
  if (!Number.isInteger(count) || count < 2)
    throw new TestServerError('INVALID_TARGET', `ha needs 2 or more nodes, got ${count}`)
  const requested = options.engine ?? 'auto'
  const binaries = findPostgresBinaries(requested === 'auto' ? 'system' : requested)
  const template = await dataTemplate(binaries)
  const root = makeWorkDir('cluster')
  const server = async (name: string) =>
    new PostgresServer({
      name,
      port: await freePort(),
      dataDir: `${root}/${name}`,
      binDir: binaries.binDir,
      password: template.password,
    })
  const nodes = () => Promise.all(Array.from({ length: count }, (_, i) => server(`node${i + 1}`)))
  return { binaries, template, root, server, nodes }
}
