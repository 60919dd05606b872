import type { ChildServer } from '../../process/child-server.js'
import { waitFor } from '../../process/wait.js'
import type { PostgresServer } from '../server.js'
import type { NodeAgent } from './agent-cluster.js'

/**
 * A node whose PostgreSQL an HA engine's agent runs and supervises (a pg_auto_failover
 * keeper, a Patroni): `start()` starts the agent and waits until its server accepts
 * connections; `kill()` is a crash of the machine, the agent first, then the server.
 *
 * @example
 * ```ts
 * const agent = new ChildServer('patroni', ['patroni.yml'], 'patroni.log', true)
 * const supervised = new SupervisedNode(cluster.primary, agent, 'Patroni')
 * await supervised.start() // Patroni runs, and the server accepts connections
 * await supervised.kill()
 * ```
 */
export class SupervisedNode implements NodeAgent {
  readonly server: PostgresServer
  protected readonly agent: ChildServer
  readonly #engine: string

  constructor(server: PostgresServer, agent: ChildServer, engine: string) {
    this.server = server
    this.agent = agent
    this.#engine = engine
  }

  get running(): boolean {
    return this.agent.running
  }

  /** Starts the agent and waits until its PostgreSQL accepts connections. */
  async start(): Promise<void> {
    await this.agent.start(async () => {
      await waitFor(() => this.server.query('select 1').then(() => true), {
        timeoutMs: 120_000,
        what: `${this.server.name} to accept connections under ${this.#engine}`,
      })
    })
  }

  async kill(): Promise<void> {
    await this.agent.kill()
    await this.server.kill()
  }

  /** Synchronous {@link kill}, for exit handlers. */
  killSync(): void {
    this.agent.killSync()
    this.server.killSync()
  }
}
