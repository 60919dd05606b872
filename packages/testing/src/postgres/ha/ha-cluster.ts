import type { PostgresEngine } from '../binaries.js'
import type { PostgresServer } from '../server.js'

/** The HA engines {@link startPostgres} can run: `ha: 'pg_auto_failover'` or `ha: 'patroni'`. */
export type HaEngine = 'pg_auto_failover' | 'patroni'

/** Options of {@link startPostgres} for a cluster run by an HA engine. */
export interface StartHaOptions {
  /** The engine that elects the primary and fails over. */
  readonly ha: HaEngine
  /** Data nodes (PostgreSQL servers), 2 or more. Default 3. */
  readonly nodes?: number
  /** `system` or `auto` (the HA engines are Debian packages built for the system server). */
  readonly engine?: PostgresEngine
}

/** Options of {@link HaCluster.waitForPrimary}. */
export interface WaitForPrimaryOptions {
  /** Give up (`WAIT_TIMEOUT`) after this long. Default 60 s. */
  readonly timeoutMs?: number
}

/** A database made by {@link HaCluster.createDatabase}. */
export interface HaDatabase {
  readonly name: string
  /** libpq's multi-host URL of every node, `target_session_attrs=read-write`. */
  readonly url: string
  /** Each node's own URL, in node order. */
  readonly nodeUrls: readonly string[]
}

/**
 * A PostgreSQL cluster whose primary an HA engine elects: the nodes, their URLs, what the
 * engine reports, and the faults that make it fail over. The controls act on the engine and
 * the servers, never on a client's view.
 *
 * @example
 * ```ts
 * const ha = await startPostgres({ ha: 'pg_auto_failover', nodes: 3 })
 * const before = await ha.reportedPrimary()
 * const after = await ha.failover() // planned: the engine promotes another node
 * await ha.revive(await ha.crashPrimary()) // a crash fails over; the node rejoins as a standby
 * await ha.stop()
 * ```
 */
export interface HaCluster {
  readonly ha: HaEngine
  /** The data nodes, in creation order (`node1`, `node2`...). */
  readonly nodes: readonly PostgresServer[]
  /**
   * libpq's multi-host URL of every node:
   * `postgres://postgres:<password>@127.0.0.1:<p1>,127.0.0.1:<p2>,.../<database>?target_session_attrs=read-write`.
   */
  url(database?: string): string
  /** Each node's own URL, in node order. */
  nodeUrls(database?: string): string[]
  /** The node the engine reports as primary now (`undefined` while it reports none). */
  reportedPrimary(): Promise<PostgresServer | undefined>
  /**
   * Waits until the engine reports one primary and every other node it runs as a standby
   * (a node {@link crashPrimary} killed and not revived is not waited for); returns the primary.
   */
  waitForPrimary(options?: WaitForPrimaryOptions): Promise<PostgresServer>
  /** A planned failover (switchover); resolves with the new primary once the engine reports it. */
  failover(): Promise<PostgresServer>
  /**
   * Kills the primary's PostgreSQL and the engine's agent on that node at once, so the engine
   * must detect the loss and fail over on its own; resolves with the crashed node as soon as
   * it is down (call {@link waitForPrimary} to wait for the failover).
   */
  crashPrimary(): Promise<PostgresServer>
  /**
   * Starts a crashed node's agent again; resolves once the engine reports it a standby and it
   * streams from the primary.
   */
  revive(node: PostgresServer): Promise<void>
  /** Creates a database on the primary and waits until every running node has it. */
  createDatabase(name: string): Promise<HaDatabase>
  /** Stops every process and removes every file of the cluster. */
  stop(): Promise<void>
}
